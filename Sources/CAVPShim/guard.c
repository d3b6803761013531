// Guest memory fault guard: turns a SIGBUS on guest RAM into a recorded fault.
//
// A front end may shrink (ftruncate) the file behind guest RAM after the back end
// mapped it; touching a page past the new end raises SIGBUS (mmap(2)). That is the
// front end's doing, so it must cost that front end its device, not the process
// with every other front end in it. The handler finds the guest mapping that holds
// the faulting address, replaces the whole mapping with private zero pages
// (MAP_FIXED), marks it faulted and returns: the access restarts on the zero page
// and the owning server, which checks `avp_guard_faulted` after each event, stops
// that device. Faults outside registered mappings keep their normal meaning.
//
// Async-signal safety: the handler only reads a fixed table of atomics and calls
// mmap(2) (a plain system call on Linux); no locks, no allocation.
#define _GNU_SOURCE
#include "avp_shim.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#define AVP_GUARD_SLOTS 4096

enum { SLOT_FREE = 0, SLOT_CLAIMED = 1, SLOT_LIVE = 2 };

struct guard_slot {
    _Atomic int state;
    _Atomic uintptr_t start;
    _Atomic size_t length;
    _Atomic int faulted;
};

static struct guard_slot slots[AVP_GUARD_SLOTS];
static _Atomic uint64_t fault_generation;
static _Atomic int installed;
static struct sigaction previous;

static void guard_sigbus(int sig, siginfo_t *info, void *context) {
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < AVP_GUARD_SLOTS; i++) {
        if (atomic_load_explicit(&slots[i].state, memory_order_acquire) != SLOT_LIVE) continue;
        uintptr_t start = atomic_load_explicit(&slots[i].start, memory_order_relaxed);
        size_t length = atomic_load_explicit(&slots[i].length, memory_order_relaxed);
        if (address < start || address - start >= length) continue;
        void *r = mmap((void *)start, length, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
        if (r == MAP_FAILED) break;
        atomic_store_explicit(&slots[i].faulted, 1, memory_order_release);
        atomic_fetch_add_explicit(&fault_generation, 1, memory_order_acq_rel);
        return;
    }
    // Not guest memory: whatever handled SIGBUS before, or the default (the access faults again and kills).
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction != NULL) {
        previous.sa_sigaction(sig, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN && previous.sa_handler != NULL) {
        previous.sa_handler(sig);
    } else {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGBUS, &dfl, NULL);
    }
}

int avp_guard_install(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&installed, &expected, 1)) return 0;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_sigaction = guard_sigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, &previous) != 0) {
        atomic_store(&installed, 0);
        return -1;
    }
    return 0;
}

int avp_guard_register(void *start, size_t length) {
    if (avp_guard_install() != 0) return -1;
    for (int i = 0; i < AVP_GUARD_SLOTS; i++) {
        int expected = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&slots[i].state, &expected, SLOT_CLAIMED)) continue;
        atomic_store_explicit(&slots[i].start, (uintptr_t)start, memory_order_relaxed);
        atomic_store_explicit(&slots[i].length, length, memory_order_relaxed);
        atomic_store_explicit(&slots[i].faulted, 0, memory_order_relaxed);
        atomic_store_explicit(&slots[i].state, SLOT_LIVE, memory_order_release);
        return i;
    }
    errno = ENOSPC;
    return -1;
}

void avp_guard_unregister(int slot) {
    if (slot < 0 || slot >= AVP_GUARD_SLOTS) return;
    atomic_store_explicit(&slots[slot].state, SLOT_FREE, memory_order_release);
}

int avp_guard_faulted(int slot) {
    if (slot < 0 || slot >= AVP_GUARD_SLOTS) return 0;
    return atomic_load_explicit(&slots[slot].faulted, memory_order_acquire);
}

uint64_t avp_guard_generation(void) { return atomic_load_explicit(&fault_generation, memory_order_acquire); }

int avp_seal_against_shrinking(int fd) {
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) return 0;
    if (seals & F_SEAL_SHRINK) return 1;
    if (seals & F_SEAL_SEAL) return 0;
    return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0 ? 1 : 0;
}
