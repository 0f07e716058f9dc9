/*
 * thread_malloc_count.c: an LD_PRELOAD allocation counter per thread, for telemetry-compare.
 * Counts calls to malloc, calloc, realloc, posix_memalign and aligned_alloc made by the calling
 * thread; `qrrm_thread_mallocs()` returns that thread's count, which telemetry-compare looks up
 * with dlsym to count the allocations of the producer thread alone (the real-time side).
 *
 * Build: gcc -O2 -shared -fPIC -o thread_malloc_count.so thread_malloc_count.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

static __thread long thread_allocations;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

/* dlsym may itself call calloc: serve those few calls from a static buffer (never freed). */
static _Alignas(16) char bootstrap[16384];
static size_t bootstrap_used;
static int resolving;

static void resolve(void) {
    if (real_malloc || resolving) return;
    resolving = 1;
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    resolving = 0;
}

long qrrm_thread_mallocs(void) { return thread_allocations; }

void *malloc(size_t size) {
    resolve();
    thread_allocations++;
    return real_malloc(size);
}

void *calloc(size_t count, size_t size) {
    if (!real_calloc) {
        if (resolving) {
            size_t bytes = (count * size + 15) & ~(size_t)15;
            if (bootstrap_used + bytes > sizeof bootstrap) return NULL;
            void *memory = bootstrap + bootstrap_used;
            bootstrap_used += bytes;
            return memory; /* static storage is already zeroed */
        }
        resolve();
    }
    thread_allocations++;
    return real_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    resolve();
    thread_allocations++;
    return real_realloc(pointer, size);
}

int posix_memalign(void **pointer, size_t alignment, size_t size) {
    resolve();
    thread_allocations++;
    return real_posix_memalign(pointer, alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    resolve();
    thread_allocations++;
    return real_aligned_alloc(alignment, size);
}

void free(void *pointer) {
    static void (*real_free)(void *);
    if ((char *)pointer >= bootstrap && (char *)pointer < bootstrap + sizeof bootstrap) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(pointer);
}
