/* e2ee relay: validation of user and group ids. */
#include "relay/ids.h"

#include <string.h>

static int id_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == '@' || c == '+';
}

int e2ee__relay_id_valid(const char *s)
{
    if (!s)
        return 0;
    size_t n = strnlen(s, E2EE_RELAY_ID_MAX + 1);
    if (n == 0 || n > E2EE_RELAY_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!id_char_ok(s[i]))
            return 0;
    }
    return 1;
}

int e2ee__relay_device_ok(unsigned device)
{
    return device == 0 || device == E2EE_RELAY_DEVICE_ID;
}
