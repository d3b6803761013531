#define _GNU_SOURCE
#include "avp_pages.h"
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/// MADV_DONTNEED on every PT_LOAD segment of `info` that is not writable.
static void release_segments(const struct dl_phdr_info *info) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        if (segment->p_type != PT_LOAD || (segment->p_flags & PF_W)) continue;
        uintptr_t start = (info->dlpi_addr + segment->p_vaddr) & ~(page - 1);
        uintptr_t end = (info->dlpi_addr + segment->p_vaddr + segment->p_memsz + page - 1) & ~(page - 1);
        madvise((void *)start, end - start, MADV_DONTNEED);
    }
}

static int release_every_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size; (void)data;
    // The vDSO is the kernel's, not a file mapping: nothing to give back.
    if (info->dlpi_name && strstr(info->dlpi_name, "linux-vdso")) return 0;
    release_segments(info);
    return 0;
}

void avp_release_read_only_pages(void) { dl_iterate_phdr(release_every_object, NULL); }
