/* One bump-allocated block per thread for jansson (sl_json_arena.h). */
#include "sl_json_arena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>

#define ARENA_BYTES (256 * 1024)

static _Thread_local char *block;
static _Thread_local size_t used;
static _Thread_local int depth;
static pthread_key_t block_key; /* frees a thread's block when it ends */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void make_key(void) {
    if (pthread_key_create(&block_key, free) != 0) abort();
}

static int in_block(const void *p) {
    return block && (const char *)p >= block && (const char *)p < block + ARENA_BYTES;
}

static void *arena_malloc(size_t n) {
    if (depth > 0) {
        size_t need = (n + 15) & ~(size_t)15;
        if (!block) {
            block = malloc(ARENA_BYTES);
            if (!block) abort();
            pthread_once(&key_once, make_key);
            pthread_setspecific(block_key, block);
        }
        if (need <= ARENA_BYTES - used) {
            void *p = block + used;
            used += need;
            return p;
        }
    }
    return malloc(n);
}

static void arena_free(void *p) {
    if (!in_block(p)) free(p);
}

#if defined(__SANITIZE_ADDRESS__)
#define SL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SL_ASAN 1
#endif
#endif

void sl_json_arena_install(void) {
    json_set_alloc_funcs(arena_malloc, arena_free);
}

void sl_json_arena_begin(void) {
#ifndef SL_ASAN /* a sanitizer build mallocs everything, so that it sees it */
    depth++;
#endif
}

void sl_json_arena_end(void) {
    if (depth > 0 && --depth == 0) used = 0;
}
