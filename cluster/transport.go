package cluster

import "strconv"

// NodeID names a node of a cluster. The cluster numbers its nodes 0..n-1.
type NodeID uint32

func (n NodeID) String() string { return "n" + strconv.Itoa(int(n)) }

// Transport carries messages between nodes. Nodes share no memory: a message
// is a byte slice, and the only thing a node learns about another is what it
// reads in one. A real network transport can implement this interface; the
// simulated ones in this package are Net (virtual time, no goroutines) and
// Live (wall-clock time, one goroutine).
//
// A Transport gives no delivery guarantee: a message may be lost, delayed,
// duplicated or overtaken by a later one. The protocol above copes.
type Transport interface {
	// Send queues a copy of msg from node from to node to. It never blocks
	// and never reports whether the message arrives. The caller keeps
	// ownership of msg and may reuse it as soon as Send returns.
	Send(from, to NodeID, msg []byte)

	// Listen sets the function that receives the messages addressed to node
	// id. deliver owns msg from then on. deliver must not block: it is called
	// from a transport goroutine (or, for an instant link, from the sender's
	// goroutine) and holds up other deliveries while it runs.
	Listen(id NodeID, deliver func(from NodeID, msg []byte))
}

// A Recycler is a Transport that reuses the buffers it delivers. A
// receiver that is done with a delivered message, and holds the only
// reference to its memory, may hand it back with Recycle, and a later
// delivery copies into it instead of into fresh memory. Giving a buffer
// back is never required; giving back one that is still in use corrupts
// whatever uses it.
type Recycler interface {
	Recycle(msg []byte)
}
