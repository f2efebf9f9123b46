/* e2ee relay: intrusive doubly linked lists (a link is unlinked when it points to itself). */
#include "relay/relay.h"

void e2ee__rlist_init(struct e2ee__rlink *head)
{
    head->prev = head->next = head;
}

int e2ee__rlist_linked(const struct e2ee__rlink *l)
{
    return l->next && l->next != l;
}

void e2ee__rlist_add(struct e2ee__rlink *head, struct e2ee__rlink *l)
{
    if (e2ee__rlist_linked(l))
        return;
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

void e2ee__rlist_del(struct e2ee__rlink *l)
{
    if (!e2ee__rlist_linked(l))
        return;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
}
