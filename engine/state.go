package engine

import (
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"

	"github.com/zeebo/blake3"
)

// Status is where an isolate stands.
type Status uint8

const (
	Ready    Status = iota // created, not yet run
	Yielded                // stopped at a safepoint because its budget ran out
	Halted                 // stopped at a safepoint because Halt was called
	Finished               // the entry function returned; Result holds its value
	Faulted                // a runtime fault ended it; Fault holds the code
	numStatus
)

var statusNames = [numStatus]string{"ready", "yielded", "halted", "finished", "faulted"}

func (s Status) String() string {
	if s < numStatus {
		return statusNames[s]
	}
	return fmt.Sprintf("status%d", uint8(s))
}

// Runnable reports whether Run can continue an isolate in this status.
func (s Status) Runnable() bool { return s <= Halted }

// NoReturn is the RetPC of the bottom frame: returning from it finishes.
const NoReturn = ^uint32(0)

// Frame is one active call, four 32-bit words.
type Frame struct {
	Fn     uint32 // function index
	Base   uint32 // index in Regs of the frame's register 0
	RetPC  uint32 // caller's pc to continue at, or NoReturn for the bottom frame
	RetReg uint32 // index in Regs that receives the result (in the caller's window)
}

// State is an isolate's complete execution state, as plain data: no Go
// pointers beyond the slices themselves, heap references are offsets into
// Heap, and the code is named by its hash. Frame windows are contiguous:
// Frames[0].Base is 0, and each frame starts where its caller's NRegs end.
//
// Heap layout: an arena of 8-byte aligned objects laid end to end, starting at
// offset 8 (offset 0 is nil: the empty string, the nil slice). Each object
// starts with a header word, kind<<56 | length:
//
//	kind 1, string:       header, then length bytes, zero-padded to 8
//	kind 2, scalar array: header, capacity word, then capacity 8-byte elements
//	kind 3, ref array:    header, capacity word, then capacity 8-byte refs
//	kind 4, scalar slice: header, capacity word, array (a kind 2 ref), offset
//	                      in the heap of the slice's element 0
//	kind 5, ref slice:    the same over a kind 3 array
//	kind 6, struct:       header (length: the field count, at most 64), ref
//	                      mask, value mask, then the fields
//	kind 7, map:          header (length: the live entries), info, entries
//	                      used, then refs to its keys, values, meta and index
//	                      arrays (see maps.go)
//
// An array is also the slice of all of itself; its elements past its length
// are reachable through slice headers (see the package doc, Slices).
type State struct {
	Program [32]byte // hash of the program the state belongs to
	Status  Status
	Fault   uint32 // fault code when Faulted, else 0
	PC      uint32 // next instruction to execute (the faulting one when Faulted)
	Steps   uint64 // instructions executed so far; saturates at 2^64-1, an exhausted quota
	Result  uint64 // the entry function's result once Finished (a heap ref for ref kinds)
	HeapCap uint64 // the heap collects garbage before growing past this size
	Frames  []Frame
	Regs    []uint64 // registers up to the end of the top frame's window
	Globals []uint64
	Heap    []byte // the arena in use, [0, used)
	Output  []byte // everything printed so far
}

// Err returns the fault as an error, or nil.
func (s *State) Err() error {
	if s.Status != Faulted {
		return nil
	}
	if s.Fault < NumFaultCodes && s.Fault != 0 {
		return faultCodes[s.Fault]
	}
	return ErrInternal
}

// Clone returns a deep copy that shares no memory with s.
func (s *State) Clone() *State {
	c := *s
	c.Frames = append([]Frame(nil), s.Frames...)
	c.Regs = append([]uint64(nil), s.Regs...)
	c.Globals = append([]uint64(nil), s.Globals...)
	c.Heap = append([]byte(nil), s.Heap...)
	c.Output = append([]byte(nil), s.Output...)
	return &c
}

// Hash returns the state hash, the root of a Merkle tree over the heap's
// pages and the rest of the state (merkle.go has the construction, and the
// package doc says why):
//
//	root = BLAKE3-256("KNST" u32(version 3)
//	                  program[32]
//	                  u64 status, fault, pc, steps, result, heapcap
//	                  u64 len(frames), len(regs), len(globals), len(heap), len(output)
//	                  heapRoot[32]
//	                  frames as 4×u32 each, regs, globals as u64 each, output bytes)
//
// all little-endian. It covers everything that determines how the isolate
// continues and what it has produced, and nothing about where it runs: no
// isolate id, epoch, node or budget. Equal states hash equal, however
// their hash was computed: here in one pass, by Isolate.Hash page by page,
// or by a pre-copy target from the pages it received.
func (s *State) Hash() [32]byte {
	root := HeapRoot(s.Heap)
	return StateRoot(s, &root)
}

// stateHashVersion names the canonical form the state hash covers; it
// changes with the heap layout and the hash's construction (2: slice
// headers; 3: the Merkle tree over 8 KiB pages).
const stateHashVersion = 3

var hasherPool = sync.Pool{New: func() any { return blake3.New() }}

// littleEndian is true when the host stores words little-endian, so that word
// slices can be viewed as their canonical bytes without copying.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// WordBytes returns the canonical little-endian bytes of words. On
// little-endian hosts it aliases words; elsewhere it copies.
func WordBytes(words []uint64) []byte {
	if len(words) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), len(words)*8)
	}
	b := make([]byte, len(words)*8)
	for i, w := range words {
		binary.LittleEndian.PutUint64(b[i*8:], w)
	}
	return b
}

// FrameBytes returns the canonical bytes of frames (4 little-endian u32 each).
// On little-endian hosts it aliases frames.
func FrameBytes(f []Frame) []byte {
	if len(f) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), len(f)*16)
	}
	b := make([]byte, len(f)*16)
	for i, fr := range f {
		binary.LittleEndian.PutUint32(b[i*16:], fr.Fn)
		binary.LittleEndian.PutUint32(b[i*16+4:], fr.Base)
		binary.LittleEndian.PutUint32(b[i*16+8:], fr.RetPC)
		binary.LittleEndian.PutUint32(b[i*16+12:], fr.RetReg)
	}
	return b
}

func writeWords(h *blake3.Hasher, words []uint64) {
	if littleEndian {
		h.Write(WordBytes(words))
		return
	}
	var buf [512]byte
	for len(words) > 0 {
		n := min(len(words), len(buf)/8)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint64(buf[i*8:], words[i])
		}
		h.Write(buf[:n*8])
		words = words[n:]
	}
}
