/* e2ee internal: parsing of relay URLs (ws:// and wss:// only). Pure, no I/O. */
#ifndef E2EE_NET_URL_H
#define E2EE_NET_URL_H

#include "net/net.h"

#define E2EE__NET_HOST_MAX 253 /* longest DNS name */

struct e2ee__net_url {
    int tls;                            /* 1 for wss:// */
    char host[E2EE__NET_HOST_MAX + 1];  /* to connect to; an IPv6 literal without brackets */
    int port;                           /* 1..65535; 80 or 443 when not given */
    char host_header[E2EE__NET_HOST_MAX + 9]; /* "host", "[v6]" and ":port" when not default */
    char path[E2EE__NET_URL_MAX + 2];   /* starts with '/', query included */
};

/*
 * Parses "ws[s]://host[:port][/path][?query]" (scheme case-insensitive; host a DNS name, an
 * IPv4 address or a bracketed IPv6 address). Refused with E2EE_ERR_ARG: other schemes, user
 * info, fragments, empty host or port, port 0 or over 65535, spaces or control characters;
 * E2EE_ERR_LENGTH: URL over E2EE__NET_URL_MAX or host over E2EE__NET_HOST_MAX.
 */
E2EE_MUST_CHECK int e2ee__net_url_parse(const char *url, struct e2ee__net_url *out);

#endif
