/*
 * sl_json_arena.h - jansson's allocations of one request from one block:
 * a query answer is some seventy small objects made and freed within the
 * request, and malloc and free were a tenth of its cost. Between
 * sl_json_arena_begin and sl_json_arena_end on a thread, jansson allocates
 * from that thread's block (freeing there does nothing; end frees it all
 * at once); past the block, and outside the span, it mallocs as usual.
 * Only for work whose JSON values do not outlive the span or leave the
 * thread.
 */
#ifndef SL_JSON_ARENA_H
#define SL_JSON_ARENA_H

/* Makes jansson allocate through the arena (once, at start). In a
 * sanitizer build the span never opens: it must see every allocation. */
void sl_json_arena_install(void);
void sl_json_arena_begin(void);
void sl_json_arena_end(void);

#endif
