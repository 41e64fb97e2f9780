package queue

// cacheLinePad is the distance, in bytes, that this package keeps between
// words written by different goroutines (the deque's top, its split and
// request, and its owner's bottom; the inbox's tail and head).
//
// It is 128 rather than the 64-byte line of current amd64 parts for two
// reasons: Intel's spatial (adjacent-line) prefetcher pulls lines in 128-byte
// pairs, so two words 64 bytes apart still interfere; and arm64 parts such as
// Apple's M series and POWER use 128-byte lines. The cost is a few hundred
// bytes per deque, of which there is one per worker. A test checks that the
// value is at least the line size that klauspost/cpuid reports, when that is
// known (cpuid reports 0 or less when it is not).
const cacheLinePad = 128
