package engine

import (
	"syscall"
	"unsafe"
)

// discardMin is the smallest buffer worth a system call.
const discardMin = 1 << 20

var pageSize = uintptr(syscall.Getpagesize())

// discard hands the whole pages inside b, a heap buffer the isolate is
// dropping, back to the OS: they leave the resident set now rather than when
// the Go collector frees them, and read as zero if touched again. Partial
// pages at either end are left alone, since a decoded state's arena shares
// them with its other sections. Only buffers whose contents no longer matter
// may be discarded: an outgrown arena after its copy, an outgrown spare.
func discard(b []byte) {
	b = b[:cap(b)]
	if len(b) < discardMin {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (start + pageSize - 1) &^ (pageSize - 1)
	hi := (start + uintptr(len(b))) &^ (pageSize - 1)
	if hi > lo {
		_ = syscall.Madvise(b[lo-start:hi-start], syscall.MADV_DONTNEED) // advice: failing costs only memory
	}
}
