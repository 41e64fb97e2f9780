// Package engine is KnotenCore's virtual machine: programs, isolates that run
// them, and the plain-data State an isolate can be halted into and resumed
// from, on this machine or another.
//
// # The machine
//
// A Program is a contiguous slice of fixed-width 64-bit instruction words
// (Instr), a pool of numeric constants (K), a pool of string constants (S),
// a table of functions and a count of globals (G). Functions tile the code in
// order; each owns the range [Entry, End) and a register window of NRegs
// 64-bit registers, the first NParams of which receive its arguments. The
// entry function takes no arguments; what it returns is the isolate's result.
//
// Registers are typed by function, not by instruction: a function's RefRegs
// bitmap says which registers hold heap references, and every other register
// holds a scalar (an int64, the bits of a float64, or a bool as 0 or 1). The
// same holds for globals (Program.GlobalRefs). Instructions are typed too
// (ADD for ints, FADD for floats, AGET for scalar elements, AGETR for refs),
// so no value is ever boxed and the dispatch loop allocates nothing. Validate
// checks every operand of every instruction against its opcode's operand
// kinds (opInfo), which is what makes the collector precise.
//
// An instruction word holds the opcode in bits 0-7, A in bits 8-23, B in bits
// 24-39 and C in bits 40-63. A is a register; B a register or a signed 16-bit
// immediate; C a register, a signed 24-bit immediate, a pool, global or
// function index, or an absolute jump target. The Opcode constants document
// each instruction's effect.
//
// The register file is one []uint64. Frames are records of four uint32
// fields, 16 bytes (Fn, Base, RetPC, RetReg); frame i's window starts where frame i-1's ends, so
// windows never overlap and the register file of a state is exactly the
// concatenation of the live windows. CALL a, b, f copies R[a..a+n) into the
// callee's window, clears the rest of it, pushes a frame and jumps to f's
// entry; RET v pops the frame and writes v into the caller's R[b].
//
// The heap is one byte arena in which a reference is the byte offset of an
// object's header; offset 0 is nil, which is also the empty string and the
// empty array. Objects are 8-byte aligned and laid end to end (see State for
// their layout), so the heap parses from start to end without any side table.
// When an allocation would grow the arena past State.HeapCap, a Cheney copying
// collection runs from the ref globals and, frame by frame, the ref registers.
// HeapCap is then set from what survived, as Go's GOGC=100 does: twice the
// live bytes (or the pending request, if larger), rounded up to
// InitialHeap×2^k, at most Limits.MaxHeap. It is recomputed at every
// collection, so it shrinks when the live heap does, and it moves in powers
// of two, so that a live heap growing a little at each collection keeps its
// semispaces. Everything the collector does depends on the state alone, so a
// resumed isolate collects exactly where the original would have and the two
// stay byte-identical.
//
// HeapCap is the collection trigger, not a reservation: the arena's capacity
// doubles as the heap really grows, up to HeapCap. And a state cannot set it
// freely: after the allocation that follows a collection, the heap holds at
// least what set the trigger, so every state a run stops in has HeapCap <=
// twice its heap rounded up to InitialHeap×2^k (and <= MaxHeap), and
// CheckState refuses any other. A state from elsewhere carrying a heap of U
// bytes can thus make its isolate grow to less than max(InitialHeap, 4U)
// before it collects, which a straight run holding the same heap may do too;
// what it holds then is the arena plus the spare semispace (see below), at
// most about that twice over. A 344-byte state (8-byte heap) claiming
// HeapCap = MaxHeap for a program that makes 8 KB of garbage per iteration
// is refused; before this bound its isolate grew to a peak Footprint of
// 256 MiB (the quota and a second semispace; process peak RSS 524 MB) where
// the straight run stays under 1 MiB. At the largest claim allowed for that
// heap, 64 KiB (InitialHeap), it peaks at 126 KiB, as the straight run does. The from-space of a collection is kept as the next
// to-space, so a heap of steady size allocates nothing, unless it is more
// than twice the new trigger (the live heap shrank); outgrown or dropped
// arenas and semispaces are, on Linux, handed back to the OS at once
// (madvise MADV_DONTNEED), rather than left resident until the Go collector
// frees them. Isolate.Footprint reports what an isolate holds.
//
// Memory near the quota: two semispaces of HeapCap each are resident, so an
// isolate whose live heap fills its quota has a resident set of about twice
// the quota. BenchmarkHeapNearQuota (a live heap growing to about 240 MiB
// under the default 256 MiB quota, while making garbage) measured a process
// peak RSS of 524 MiB, 2.05x the quota, in 10.1 s, the same as before the
// trigger followed the live heap (523 MiB, 2.04x, 9.7 s; it was 1033 MiB,
// 4.04x, before outgrown buffers were dropped early). A trigger of exactly
// twice the live heap, without the rounding, changed it at nearly every
// collection of this growing heap, reallocating both semispaces each time:
// 759 MiB (2.96x) and 78 s, so it was rejected. (AMD EPYC, 2 vCPU KVM guest,
// shared, go1.26; go test -run '^$' -bench HeapNearQuota -benchtime 1x
// ./engine.)
//
// # Slices
//
// A slice is Go's (pointer, length, capacity). The representation keeps
// every register one typed word: a slice value is one ref, to an array or
// to an immutable slice header. An array object (kind 2 or 3) is the slice
// of all of itself, from element 0 for its length and capacity, which is
// what make and literals build, so indexing such a slice costs what
// indexing an array did. A slice header (kind 4 or 5, 32 bytes) names the
// array behind it, the offset in the heap of its element 0, its length and
// its capacity; slicing, append into spare capacity and make with a larger
// capacity make one. Headers are never written after they are made, just
// as a Go slice header is a value: b := append(a, 1) leaves every other
// slice's length and capacity as they were, while the elements that slices
// share are shared, so c := append(b, 2) and d := append(b, 3) write the
// same element when b has room, exactly as in Go. When a slice has no room,
// append makes a new array with the capacity Go's runtime would give it
// (growslice and its size classes, for the element's Go size and whether
// it holds pointers, which the instruction carries), so cap() and every
// aliasing decision follow Go. The collector moves an array and rebases
// the headers over it; CheckState checks that each header lies inside an
// array of its element kind.
//
// Holding the header in registers instead (three words per slice) would
// save the header's allocation on append and slicing, but every place a
// value can live (registers, globals, array elements, fields, map values,
// results) would need multi-word values and multi-word kinds. A mutable
// header would make append change another variable's length, the bug this
// representation exists to avoid.
//
// # Structs, maps and closures
//
// A struct is an object of up to 64 one-word fields whose header carries
// a ref mask and a value mask (struct.go): the collector and CheckState
// read the masks, and every field access checks its bit, so no type table
// is needed and no state can make a scalar pass for a reference. A struct
// value is a ref to an object only it holds: CLONE copies one (through the
// struct fields it owns) where Go copies a value, SCOPY assigns one by
// copying into the destination's object, which is what keeps &x, &s[i]
// and &x.f valid. A pointer to anything but a struct points at a
// one-field cell. A map (maps.go) is a fixed object over four arrays: its
// entries in insertion order, their hashes and an open-addressing index;
// the hash has no seed and iteration follows the entries, so a map
// iterates the same in a resumed isolate. A closure is a struct whose
// field 0 is a function index: CALLF checks that the function has the
// shape (parameter and result kinds) its call site was validated for, so
// a function value from a state can only ever call a function it can.
//
// # Pages, dirty tracking and the state hash
//
// The heap is divided into pages of PageSize (8 KiB; pages.go says why that
// size) for three purposes that share one bitmap: pre-copy migration sends
// the pages written since its last round, the state hash rehashes only
// those, and a pre-copy target verifies the state from the pages it holds.
// Every instruction that writes into an existing object marks the page of
// each word it writes (put, markRange): one shift, one OR, one store. An
// allocation marks the pages it hands out, so writes into fresh objects
// need nothing more. TestDirtyPagesCoverEveryWrite compares the heap at each
// stop with the previous one: every changed page must be marked. Building
// with -tags knoten_nodirty removes the marking, to measure it (make
// dirty-cost); every sync then treats every page as dirty.
//
// The state hash is a Merkle tree (merkle.go has the construction): a
// BLAKE3 hash per page under a derived key, inner nodes over runs of 64
// hashes under another, and the root over the tree's top and everything
// else in the state. State.Hash computes it in one pass over the pages;
// Isolate.Hash and TakeDirty keep a HeapTree and rehash only the pages
// marked since the last sync and the nodes above them. The two agree for
// every state, however it was reached, which the tests check.
//
// The collector moves every live object, so a collection marks every page:
// a pre-copy migration in progress then sends the heap again, as if its
// rounds started over (the cluster bounds its rounds and counts these
// restarts). The collector itself is unchanged, so a resumed isolate
// collects exactly as a straight run does. A workload that migrates well
// live keeps a large, long-lived heap it writes in place (the cache
// workload); one that allocates fast collects often, and pre-copy gains it
// little over stop-and-copy. A non-moving old space would make pre-copy
// converge for it too, at the price of a second allocator; it is left for
// when a workload needs it.
//
// # Safepoints, budgets and halting
//
// Backward branches (LOOP, LOOPT, LOOPLT, LOOPLE) and CALL are safepoints;
// Validate rejects a forward-branch opcode that jumps backwards, so every loop
// and every recursion passes one. Run(budget) executes until the program
// finishes or faults, or a safepoint is reached after at least budget
// instructions, or after Halt was called from any goroutine. At a safepoint
// the whole state is consistent: pc is the next instruction, every register
// holds a value of its kind. The check costs one comparison of two locals per
// safepoint: the loop returns to Run every 1024 instructions (haltPollSteps)
// and Run looks at the halt flag, the budget and the instruction quota there.
// The budget counts the instructions one Run executes, not State.Steps, so it
// holds whatever counter a state arrives with. State.Steps saturates at
// 2^64-1 instead of wrapping, and a saturated counter is an exhausted
// instruction quota (ErrInstructionQuota) even without Limits.MaxSteps. A
// state already at or past its quota faults before executing anything, where
// a straight run faulted.
// Building with -tags knoten_nosafepoint removes the checks, to measure them.
//
// # Faults
//
// Division by zero, an index out of range, slice bounds out of range, a
// negative length or shift count, a heap object
// of the wrong kind (ErrKindMismatch, possible only in a state from
// elsewhere), the call depth limit, and the register, heap, output and
// instruction quotas end the isolate as Faulted. The dispatch loop raises
// them by panicking with a fault code after storing pc; the single recover in
// Run turns that, or any unexpected Go panic (ErrInternal), into the Faulted
// status. Err reports the sentinel error with the source position of the
// faulting instruction; an index fault also gives the index and the length
// ("index out of range [5] with length 3"), which the trap keeps in the
// isolate, outside the state, and Err formats. An unexpected panic is a bug in the VM and has no
// stored pc (the loop keeps pc in a local, to stay fast): it reports the
// position where the isolate last stopped.
package engine
