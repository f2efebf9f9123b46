#include "store_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

void sf_dir_make(struct sf_dir *d)
{
    snprintf(d->dir, sizeof d->dir, "/tmp/e2ee-store-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
}

const char *sf_path(struct sf_dir *d, const char *name)
{
    snprintf(d->path, sizeof d->path, "%s/%s", d->dir, name);
    return d->path;
}

void sf_dir_remove(struct sf_dir *d)
{
    DIR *dir = opendir(d->dir);
    struct dirent *e;
    char p[512];
    if (!dir)
        return;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", d->dir, e->d_name);
        unlink(p);
    }
    closedir(dir);
    rmdir(d->dir);
}

void sf_patch(const char *path, long offset, const void *bytes, size_t len)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, len, offset), (ssize_t)len);
    close(fd);
}

void sf_write(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    fclose(f);
}

long sf_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

const char *sf_id(size_t n, char fill)
{
    static char buf[300];
    assert_true(n < sizeof buf);
    memset(buf, fill, n);
    buf[n] = '\0';
    return buf;
}

struct e2ee__store *sf_open(const char *path)
{
    struct e2ee__store *st = NULL;
    assert_int_equal(e2ee__store_open(&st, path), E2EE_OK);
    assert_non_null(st);
    return st;
}
