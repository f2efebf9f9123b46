/*
 * e2ee-chat: files as binary messages (/sendfile, --download-dir).
 *
 * A file travels as one binary message (direct or group): the 8 bytes "E2EEFILE", the
 * name's length (2 bytes, big endian), the name (UTF-8, no '/', no control characters, not
 * "." or ".."), then the content. Other binary messages are shown as binary data. A file
 * received is written only with --download-dir, as DIR/NAME, or DIR/NAME.1, .2, ... when
 * that exists: created new (O_EXCL, O_NOFOLLOW, mode 0600), never overwriting anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat.h"

#define FILE_MAGIC "E2EEFILE"
#define FILE_MAGIC_LEN 8
#define FILE_HDR_LEN (FILE_MAGIC_LEN + 2)
#define FILE_SAVE_TRIES 100

static int name_ok(const char *name, size_t n)
{
    int ok = n > 0 && n <= CHAT_FILE_NAME_MAX && !(n == 1 && name[0] == '.') &&
             !(n == 2 && name[0] == '.' && name[1] == '.');
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        ok = !(c < 0x20 || c == 0x7f || c == '/' || c == '\\');
    }
    return ok;
}

int chat_file_decode(const char *data, size_t len, struct chat_file *f)
{
    size_t n = 0;
    int ok;
    memset(f, 0, sizeof *f);
    ok = len >= FILE_HDR_LEN && memcmp(data, FILE_MAGIC, FILE_MAGIC_LEN) == 0;
    if (ok) {
        n = ((size_t)(unsigned char)data[FILE_MAGIC_LEN] << 8) |
            (unsigned char)data[FILE_MAGIC_LEN + 1];
        ok = n <= len - FILE_HDR_LEN && name_ok(data + FILE_HDR_LEN, n);
    }
    if (ok) {
        memcpy(f->name, data + FILE_HDR_LEN, n);
        f->name[n] = '\0';
        f->content = data + FILE_HDR_LEN + n;
        f->len = len - FILE_HDR_LEN - n;
    }
    return ok;
}

int chat_file_encode(const char *path, uint8_t **out, size_t *out_len, struct strbuf *err)
{
    const char *base = strrchr(path, '/');
    size_t n, off = 0;
    struct stat st;
    uint8_t *buf = NULL;
    int fd = -1, rc = -1;
    *out = NULL;
    *out_len = 0;
    base = base ? base + 1 : path;
    n = strlen(base);
    if (!name_ok(base, n)) {
        sb_printf(err, "not a usable file name");
        goto done;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        sb_printf(err, "%s", fd < 0 ? strerror(errno) : "not a regular file");
        goto done;
    }
    if ((uint64_t)st.st_size > E2EE_BINARY_MAX - FILE_HDR_LEN - n) {
        sb_printf(err, "larger than %zu bytes", (size_t)(E2EE_BINARY_MAX - FILE_HDR_LEN - n));
        goto done;
    }
    buf = malloc(FILE_HDR_LEN + n + (size_t)st.st_size);
    if (!buf) {
        sb_printf(err, "out of memory");
        goto done;
    }
    memcpy(buf, FILE_MAGIC, FILE_MAGIC_LEN);
    buf[FILE_MAGIC_LEN] = (uint8_t)(n >> 8);
    buf[FILE_MAGIC_LEN + 1] = (uint8_t)n;
    memcpy(buf + FILE_HDR_LEN, base, n);
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + FILE_HDR_LEN + n + off, (size_t)st.st_size - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            sb_printf(err, "read: %s", r < 0 ? strerror(errno) : "file shrank");
            goto done;
        }
        off += (size_t)r;
    }
    *out = buf;
    *out_len = FILE_HDR_LEN + n + off;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Writes all of data to a new file at path; 0, or -1 with errno (EEXIST: taken). */
static int write_new(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t off = 0;
    int saved, rc = -1;
    if (fd < 0)
        goto done; /* errno from open: EEXIST when the name is taken */
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (off == len && close(fd) == 0) {
        rc = 0;
        goto done;
    }
    saved = errno ? errno : EIO;
    if (off != len)
        close(fd);
    unlink(path);
    errno = saved == EEXIST ? EIO : saved; /* EEXIST means "try another name" */
done:
    return rc;
}

int chat_file_save(const char *dir, const struct chat_file *f, struct strbuf *saved)
{
    struct strbuf path;
    int rc = -1;
    sb_init(&path);
    for (int i = 0; i < FILE_SAVE_TRIES && rc != 0; i++) {
        sb_reset(&path);
        if (i == 0)
            sb_printf(&path, "%s/%s", dir, f->name);
        else
            sb_printf(&path, "%s/%s.%d", dir, f->name, i);
        if (path.oom)
            break;
        rc = write_new(sb_str(&path), f->content, f->len);
        if (rc != 0 && errno != EEXIST)
            break;
    }
    if (rc == 0)
        sb_puts(saved, sb_str(&path));
    else
        sb_puts(saved, strerror(errno));
    sb_free(&path);
    return rc;
}

int chat_show_file(struct chat *ch, const struct chat_ev *ev)
{
    struct chat_file f;
    struct strbuf b, saved;
    int ok = 0, group = ev->type == E2EE_EVENT_GROUP_BINARY;
    int is_file = (ev->type == E2EE_EVENT_DIRECT_BINARY || group) && ev->text &&
                  chat_file_decode(ev->text, ev->len, &f);
    if (!is_file)
        goto done;
    sb_init(&b);
    sb_init(&saved);
    if (ch->o.download_dir)
        ok = chat_file_save(ch->o.download_dir, &f, &saved) == 0;
    if (ch->tty) {
        chat_put_time(&b, ev->at_ms);
        sb_puts(&b, group ? " #" : " ");
        if (group) {
            chat_put_text(&b, ev->group, strlen(ev->group));
            sb_putc(&b, ' ');
        }
    } else {
        sb_puts(&b, group ? "group-file " : "file ");
        if (group) {
            chat_put_text(&b, ev->group, strlen(ev->group));
            sb_putc(&b, ' ');
        }
    }
    chat_put_text(&b, ev->from ? ev->from : "", ev->from ? strlen(ev->from) : 0);
    sb_puts(&b, ch->tty ? ": [file " : ": ");
    chat_put_text(&b, f.name, strlen(f.name));
    sb_printf(&b, ", %zu bytes%s", f.len, ch->tty ? "] " : ", ");
    if (ok)
        sb_puts(&b, ch->tty ? "saved as " : "saved ");
    else if (ch->o.download_dir)
        sb_puts(&b, "not saved: ");
    else
        sb_puts(&b, ch->tty ? "not saved (start with --download-dir DIR to keep files)"
                            : "not saved");
    chat_put_text(&b, sb_str(&saved), saved.len);
    chat_print(ch, sb_str(&b));
    if (!ch->tty)
        chat_hist_add(ch, sb_str(&b));
    sb_free(&b);
    sb_free(&saved);
done:
    return is_file;
}
