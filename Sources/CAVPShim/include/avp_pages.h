// Clean file pages a process mapped but no longer needs resident.
#ifndef AVP_PAGES_H
#define AVP_PAGES_H

/// Unmaps the resident pages of the read-only segments of the program and of every shared library
/// (the vDSO aside) from this process: for a server whose start-up is over, or the sandbox's
/// waiting parent, so that only what they run from now on comes back. MADV_DONTNEED on a
/// never-written private file mapping drops the page-table entries only; a page touched again
/// comes back from the page cache (a minor fault). Writable segments (data, RELRO) are left
/// alone, since there it would discard data. The program is linked with BIND_NOW (`-z now`):
/// lazy binding would read the dynamic symbol tables back in on each first call of a function.
void avp_release_read_only_pages(void);

#endif
