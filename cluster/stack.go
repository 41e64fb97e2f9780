package cluster

// stopStack is the stack a live migration's stop needs beyond the pump's
// caller: the handoff and, over an in-process link, the target's decode of
// the final, which runs nested in it. Measured along that path: more than
// 8 KiB, at most 16.
const stopStack = 16 << 10

// growStack makes the calling goroutine's stack at least twice stopStack.
//
// Go runs a goroutine on a stack that it doubles, by copying it whole,
// whenever a call needs more room, and a collection halves a stack that is
// mostly unused, as an idle worker's is. A live migration of a large heap
// makes garbage fast (the target's growing arena, the source's dropped
// heap), so between two stops a collection has shrunk the worker's stack
// and the stop regrew it: 15 to 40 µs of its downtime here, for the copy
// walks every frame and the new stack's memory is often freshly faulted
// in. Called at the closing step, while the isolate still runs, the growth
// happens outside the downtime (CockroachDB grows its request goroutines'
// stacks up front for the same reason). A collection during the closing
// quantum may still shrink it; that only costs what it did before.
//
// It is best effort: the stop runs on the worker that ran the closing
// quantum (a sibling may have stolen the task in between) only if that
// worker drives the node when it parks the task, and the target's decode
// runs nested in it only over an in-process link (Live); over NATS the
// target decodes on its own goroutine, and the source's handoff needs
// less than stopStack.
//
//go:noinline
func growStack() {
	var pad [stopStack]byte
	touch(pad[:]) // a call the compiler cannot see through keeps pad
}

//go:noinline
func touch(b []byte) byte { return b[len(b)-1] }
