/* e2ee net: relay URL parsing. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/url.h"

#define WS_DEFAULT_PORT 80
#define WSS_DEFAULT_PORT 443
#define PORT_MAX 65535

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_';
}

static int v6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') ||
           c == ':' || c == '.';
}

/* Scheme: sets tls and returns the length of "ws://" or "wss://", or 0. */
static size_t parse_scheme(const char *url, int *tls)
{
    size_t skip = 0;
    if (strncasecmp(url, "ws://", 5) == 0)
        skip = 5;
    else if (strncasecmp(url, "wss://", 6) == 0)
        skip = 6;
    *tls = skip == 6;
    return skip;
}

/* Host at *p: copies it into out->host and advances *p past it. */
static int parse_host(const char **p, struct e2ee__net_url *out)
{
    const char *s = *p, *end;
    int (*ok)(char) = host_char;
    int rc = E2EE_OK;

    if (*s == '[') {
        s++;
        end = strchr(s, ']');
        ok = v6_char;
    } else {
        end = s + strcspn(s, ":/?");
    }
    if (!end || end == s)
        rc = E2EE_ERR_ARG;
    else if ((size_t)(end - s) > E2EE__NET_HOST_MAX)
        rc = E2EE_ERR_LENGTH;
    for (const char *c = s; rc == E2EE_OK && c < end; c++)
        rc = ok(*c) ? E2EE_OK : E2EE_ERR_ARG;
    if (rc == E2EE_OK) {
        memcpy(out->host, s, (size_t)(end - s));
        out->host[end - s] = '\0';
        *p = *end == ']' ? end + 1 : end;
    }
    return rc;
}

/* Optional ":port" at *p. */
static int parse_port(const char **p, struct e2ee__net_url *out)
{
    const char *s = *p;
    long port = 0;
    int rc = E2EE_OK;

    out->port = out->tls ? WSS_DEFAULT_PORT : WS_DEFAULT_PORT;
    if (*s != ':')
        goto done;
    s++;
    if (*s < '0' || *s > '9')
        rc = E2EE_ERR_ARG;
    for (; rc == E2EE_OK && *s >= '0' && *s <= '9'; s++) {
        port = port * 10 + (*s - '0');
        if (port > PORT_MAX)
            rc = E2EE_ERR_ARG;
    }
    if (rc == E2EE_OK && port == 0)
        rc = E2EE_ERR_ARG;
    if (rc == E2EE_OK) {
        out->port = (int)port;
        *p = s;
    }
done:
    return rc;
}

/* The rest: path and query; no fragment, spaces or control characters. */
static int parse_path(const char *s, struct e2ee__net_url *out)
{
    int rc = *s && *s != '/' && *s != '?' ? E2EE_ERR_ARG : E2EE_OK;
    for (const char *c = s; rc == E2EE_OK && *c; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '#')
            rc = E2EE_ERR_ARG;
    }
    if (rc == E2EE_OK)
        snprintf(out->path, sizeof out->path, "%s%s", *s == '/' ? "" : "/", s);
    return rc;
}

static void make_host_header(struct e2ee__net_url *out)
{
    int v6 = strchr(out->host, ':') != NULL;
    int dflt = out->port == (out->tls ? WSS_DEFAULT_PORT : WS_DEFAULT_PORT);
    char port[8] = "";

    if (!dflt)
        snprintf(port, sizeof port, ":%d", out->port);
    snprintf(out->host_header, sizeof out->host_header, "%s%s%s%s", v6 ? "[" : "", out->host,
             v6 ? "]" : "", port);
}

int e2ee__net_url_parse(const char *url, struct e2ee__net_url *out)
{
    struct e2ee__net_url u;
    const char *p = NULL;
    int rc = url && out ? E2EE_OK : E2EE_ERR_ARG;

    memset(&u, 0, sizeof u);
    if (out)
        *out = u;
    if (rc == E2EE_OK && strnlen(url, E2EE__NET_URL_MAX + 1) > E2EE__NET_URL_MAX)
        rc = E2EE_ERR_LENGTH;
    if (rc == E2EE_OK) {
        size_t skip = parse_scheme(url, &u.tls);
        rc = skip ? E2EE_OK : E2EE_ERR_ARG;
        p = url + skip;
    }
    if (rc == E2EE_OK)
        rc = parse_host(&p, &u);
    if (rc == E2EE_OK)
        rc = parse_port(&p, &u);
    if (rc == E2EE_OK)
        rc = parse_path(p, &u);
    if (rc == E2EE_OK) {
        make_host_header(&u);
        *out = u;
    }
    return rc;
}
