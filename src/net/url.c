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
    if (strncasecmp(url, "ws://", 5) == 0) {
        *tls = 0;
        return 5;
    }
    if (strncasecmp(url, "wss://", 6) == 0) {
        *tls = 1;
        return 6;
    }
    return 0;
}

/* Host at *p: copies it into out->host and advances *p past it. */
static int parse_host(const char **p, struct e2ee__net_url *out)
{
    const char *s = *p, *end;
    int (*ok)(char) = host_char;

    if (*s == '[') {
        s++;
        end = strchr(s, ']');
        if (!end)
            return E2EE_ERR_ARG;
        ok = v6_char;
    } else {
        end = s;
        while (*end && *end != ':' && *end != '/' && *end != '?')
            end++;
    }
    if (end == s)
        return E2EE_ERR_ARG;
    if ((size_t)(end - s) > E2EE__NET_HOST_MAX)
        return E2EE_ERR_LENGTH;
    for (const char *c = s; c < end; c++) {
        if (!ok(*c))
            return E2EE_ERR_ARG;
    }
    memcpy(out->host, s, (size_t)(end - s));
    out->host[end - s] = '\0';
    *p = *end == ']' ? end + 1 : end;
    return E2EE_OK;
}

/* Optional ":port" at *p. */
static int parse_port(const char **p, struct e2ee__net_url *out)
{
    const char *s = *p;
    long port = 0;

    out->port = out->tls ? WSS_DEFAULT_PORT : WS_DEFAULT_PORT;
    if (*s != ':')
        return E2EE_OK;
    s++;
    if (*s < '0' || *s > '9')
        return E2EE_ERR_ARG;
    while (*s >= '0' && *s <= '9') {
        port = port * 10 + (*s - '0');
        if (port > PORT_MAX)
            return E2EE_ERR_ARG;
        s++;
    }
    if (port == 0)
        return E2EE_ERR_ARG;
    out->port = (int)port;
    *p = s;
    return E2EE_OK;
}

/* The rest: path and query; no fragment, spaces or control characters. */
static int parse_path(const char *s, struct e2ee__net_url *out)
{
    if (*s && *s != '/' && *s != '?')
        return E2EE_ERR_ARG;
    for (const char *c = s; *c; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '#')
            return E2EE_ERR_ARG;
    }
    snprintf(out->path, sizeof out->path, "%s%s", *s == '/' ? "" : "/", s);
    return E2EE_OK;
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
    const char *p;
    size_t skip;
    int rc;

    memset(&u, 0, sizeof u);
    if (out)
        *out = u;
    if (!url || !out)
        return E2EE_ERR_ARG;
    if (strnlen(url, E2EE__NET_URL_MAX + 1) > E2EE__NET_URL_MAX)
        return E2EE_ERR_LENGTH;
    skip = parse_scheme(url, &u.tls);
    if (skip == 0)
        return E2EE_ERR_ARG;
    p = url + skip;
    rc = parse_host(&p, &u);
    if (rc == E2EE_OK)
        rc = parse_port(&p, &u);
    if (rc == E2EE_OK)
        rc = parse_path(p, &u);
    if (rc != E2EE_OK)
        return rc;
    make_host_header(&u);
    *out = u;
    return E2EE_OK;
}
