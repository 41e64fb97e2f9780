// Package codec is the binary wire format of an isolate's execution state
// (engine.State) plus the routing metadata a migration needs (Meta). It is
// built so that moving a state costs about as much as copying its memory: the
// register file, frames, globals, heap and output are written as they lie in
// memory, and decoded by aliasing the input buffer rather than copying it.
// Everything the decoder reads is checked before it is used, so any byte
// string from the network either fails with a precise error or yields a state
// that engine.Resume can run safely.
//
// # Wire format
//
// All integers are little-endian. Offsets count from the first byte of the
// encoding, and every section starts at a multiple of 8, so a decoder that
// receives the encoding in an 8-aligned buffer can view the word sections in
// place.
//
//	encoding = header meta frames regs globals heap pad output pad trailer
//
//	header   = magic:"KNCS" version:u32 size:u64 check:u32 reserved:u32
//	           table:section[6]                      120 bytes
//	section  = offset:u64 length:u64                 meta, frames, regs, globals, heap, output
//	meta     = isolate:u64 epoch:u64 program:[32]byte
//	           status:u32 fault:u32 pc:u32 reserved:u32
//	           steps:u64 result:u64 heapcap:u64      88 bytes, at offset 120
//	frames   = (fn:u32 base:u32 retpc:u32 retreg:u32)*      engine.Frame, 16 bytes each
//	regs     = u64*                                  engine.State.Regs
//	globals  = u64*                                  engine.State.Globals
//	heap     = byte*                                 engine.State.Heap, the arena (objects below)
//	output   = byte*                                 engine.State.Output
//	pad      = zero bytes up to the next multiple of 8 (0 to 7 of them)
//	trailer  = hash:[32]byte                         engine.State.Hash of the state (a Merkle root, see engine)
//
// The heap section is the engine's arena as it lies in memory: 8-byte
// aligned objects, each a header word kind<<56 | length and a body, laid
// end to end after a zero nil word (engine.State documents each kind).
// Version 3 knows these kinds: 1 string, 2 array of scalars, 3 array of
// refs, 4 slice header over a scalar array, 5 slice header over a ref
// array, 6 struct (a struct value, a pointer's cell, a closure), 7 map. A decoder refuses any other kind, and engine.CheckState checks
// each object's shape and every reference in it.
//
// version is Version; a decoder for another version fails with ErrVersion,
// "version mismatch: read N, want M". size is the length of the whole
// encoding, trailer included, so that a stream reader can frame a message
// from its first 16 bytes (see Size). check is the CRC-32C (Castagnoli) of
// bytes [24, 208), the section table and meta: it guards the isolate id and
// epoch, which the state hash does not cover, and lets PeekMeta trust the
// program hash without reading the rest. Reserved words are zero.
//
// The encoding is canonical: the table must list the sections in the order
// above, meta at offset 120 with length 88, each later section at the end of
// the previous one rounded up to 8, frames a multiple of 16 bytes and regs
// and globals multiples of 8; the trailer sits at the end of output rounded
// up to 8, and size is the trailer's end. Every padding byte is zero. Hence a
// (Meta, State) pair has exactly one encoding, and a decoded state encodes
// back to the very bytes it came from.
//
// # Pre-copy
//
// A live migration (cluster.PreCopy) sends the heap in pages of
// engine.PageSize while the isolate keeps running, then the rest of the
// state. Two more encodings carry it, with the same version, integers
// and padding rules:
//
//	pages    = magic:"KNCP" version:u32 size:u64 check:u32 reserved:u32
//	           isolate:u64 session:u64 seq:u32 count:u32 heaplen:u64      56 bytes
//	           index:u32*count pad page*count
//	page     = heap[index·PageSize : min((index+1)·PageSize, heaplen)]
//
//	final    = the state encoding above with magic "KNCF", and in place of
//	           the heap section's bytes a page block:
//	           session:u64 chunks:u32 count:u32 heaplen:u64 index:u32*count pad page*count
//
// A pages encoding is one chunk of a round: pages of a heap of heaplen
// bytes, indexes strictly increasing, each below ⌈heaplen/PageSize⌉, the
// last page of the heap shorter than PageSize; seq numbers the chunks of
// one session (a migration) from 0; check is the CRC-32C of bytes [24, 56
// + 4·count). The final encoding ends the session: chunks is how many
// pages encodings preceded it, heaplen the heap's final length, and the
// trailer the state hash of the whole state, which the target verifies
// from the pages it holds.
//
// An Assembler takes one session's pages encodings in sequence (a gap or a
// repeat is ErrSequence, and breaks it), copies each page into its arena
// and hashes it into an engine.HeapTree, so that at the stop only the
// final's pages and the nodes above them are hashed. A chunk whose heaplen
// is shorter than the arena cuts it (the source's heap shrank in a
// collection, and every page after it is dirty and comes again). A page
// may land at most one page past the pages the arena reaches, and the
// arena grows by doubling but never past heaplen, so the memory it holds
// follows the bytes received, not a length a sender claims.
// DecodeOptions.DecodeFinal validates a final as strictly as Decode a
// state, requires the assembled heap to be exactly heaplen bytes, verifies
// the root and checks the state; the state hash is canonical, so the same
// state verifies alike as one encoding or as any sequence of chunks.
//
// # Validation
//
// Decode checks, in order: magic, version, that the input is exactly size
// bytes, the reserved words and the header check, the section table against
// the canonical layout and the input length (no length is trusted before it
// is compared with the bytes actually present, so a lying length can never
// make the decoder allocate), zero padding, then resolves the program by its
// hash and runs engine.CheckState (pcs, return pcs, frames against registers,
// heap structure and references, quotas), and last, unless verification is
// off, recomputes the state hash and compares it with the trailer. It never
// panics. All failures are *Error values wrapping one of the sentinel errors.
// Meta.Hash returns the trailer's hash, verified unless verification was off,
// so that a receiver never reads the trailer itself.
//
// The state is checked once. A receiver that resumes what it decodes calls
// DecodeOptions.DecodeChecked, which returns the state as an engine.Checked:
// engine.ResumeChecked resumes it under the program and limits the decoder
// checked it against, without checking again, and nothing else can make a
// Checked. A Checked is a one-shot token of the DecodeOptions.Checker that
// made it: it and all its copies resume once, the Checker's next
// DecodeChecked voids it, and it gives no access to the state's memory. engine.Resume, given a decoded *engine.State, checks it again.
//
// # Ownership
//
// Encoding never retains its arguments. The vectored form (EncodeBuffers)
// returns buffers that reference the state's memory: they are valid until
// the state is next modified (for an isolate's state view, until its next
// Run). Decoding takes ownership of the input buffer: the returned state's
// frames, registers, globals, heap and output alias it whenever the host is
// little-endian and the section is suitably aligned, and engine.Resume (or
// engine.ResumeChecked) then writes into it. The caller must not modify, reuse or return to a pool a
// buffer passed to Decode while the decoded state, or an isolate resumed from
// it, lives. Aliased slices have cap == len, so appends by the engine
// reallocate instead of writing past their section.
package codec
