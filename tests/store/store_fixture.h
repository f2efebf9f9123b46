/* Shared helpers of the store tests: temporary folders and raw file edits. */
#ifndef E2EE_TEST_STORE_FIXTURE_H
#define E2EE_TEST_STORE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* A fresh temporary folder; sf_path() builds paths inside it. */
struct sf_dir {
    char dir[64];
    char path[128];
};
void sf_dir_make(struct sf_dir *d);
/* Removes every file of the folder, then the folder. */
void sf_dir_remove(struct sf_dir *d);
/* d->path = dir/name; returns d->path. */
const char *sf_path(struct sf_dir *d, const char *name);

/* Writes len bytes at offset of an existing file. */
void sf_patch(const char *path, long offset, const void *bytes, size_t len);
/* Writes a whole file. */
void sf_write(const char *path, const void *bytes, size_t len);
/* Size of a file, -1 when absent. */
long sf_size(const char *path);

/* An id string of exactly n characters (n < 300) in a static buffer. */
const char *sf_id(size_t n, char fill);

/* Opens a store and fails the test on error. */
struct e2ee__store *sf_open(const char *path);

#endif
