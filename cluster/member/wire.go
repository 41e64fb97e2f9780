package member

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/ledger"
	"github.com/knotencore/knoten/cluster/natsnet"
)

// Control subjects of cluster C (natsnet's permissions admit exactly
// these; see natsnet's package documentation):
//
//	knoten.C.ctl.any.submit     queue group natsnet.ControlQueue: one member spawns
//	knoten.C.ctl.<node>.submit  that node spawns
//	knoten.C.ctl.all.ps         every member answers with what it holds
//	knoten.C.ctl.all.migrate    the member holding the isolate answers
//	knoten.C.ctl.<node>.drain   that node drains, and answers when done
//	knoten.C.done.<node>.<isolate>  a completion, published once, after the ledger's Finish, by node only
//	knoten.C.event.<node>       the node's migration events (halted, arrived, migrated, resumed, fenced)
//
// Every payload is JSON. Members answer only into clients' inboxes.

func ctlSubject(c, to, verb string) string { return "knoten." + c + ".ctl." + to + "." + verb }

// DoneSubject is where node publishes the completion of isolate id; "*"
// for both gives the wildcard for every completion. The server lets only
// node publish below done.<node>, so the subject authenticates the
// completing node (the payload's Node must agree).
func DoneSubject(c, node, id string) string { return natsnet.DonePrefix(c) + "." + node + "." + id }

// EventSubject is where node publishes its migration events; node "*"
// gives the wildcard for every node.
func EventSubject(c, node string) string { return natsnet.EventPrefix(c) + "." + node }

// SubmitRequest asks for a program to be spawned.
type SubmitRequest struct {
	// DeadlineNS, if not 0, is when the client stops waiting for the
	// answer (wall clock, ns since 1970): a member that gets the request
	// later (it was paused, say) refuses it rather than spawn a program
	// whose client has given up and may submit it again.
	DeadlineNS int64  `json:"deadline_ns,omitempty"`
	Program    []byte `json:"program"` // engine.Program.MarshalBinary
	// Route, if any, plans stops: the isolate is parked at the first
	// safepoint at or after each At instructions and handed to To (see
	// cluster.Cluster.MigrateAt).
	Route []cluster.Stop `json:"route,omitempty"`
}

// SubmitReply answers a SubmitRequest.
type SubmitReply struct {
	ID    string `json:"id,omitempty"` // "<spawner>-<seq>"
	Node  uint32 `json:"node"`
	Error string `json:"error,omitempty"`
}

// Isolate is one line of knoten ps.
type Isolate struct {
	ID    string `json:"id"`
	Node  uint32 `json:"node"`
	Epoch uint64 `json:"epoch"`
	Steps uint64 `json:"steps"`
	State string `json:"state"`
}

// PSReply is one member's answer to ps.
type PSReply struct {
	Node     uint32    `json:"node"`
	Name     string    `json:"name"`
	Draining bool      `json:"draining,omitempty"`
	Isolates []Isolate `json:"isolates"`
	// PeersUp are the members this one's failure detector reports up:
	// it hands work only to them.
	PeersUp []uint32 `json:"peers_up"`
}

// MigrateRequest asks the member holding ID to move it to node To.
type MigrateRequest struct {
	ID string `json:"id"`
	To uint32 `json:"to"`
}

// Reply is a plain answer: empty Error means done.
type Reply struct {
	Node  uint32 `json:"node"`
	Error string `json:"error,omitempty"`
}

// Result is a published completion.
type Result struct {
	ID     string `json:"id"`
	Node   uint32 `json:"node"`
	Epoch  uint64 `json:"epoch"`
	Status string `json:"status"`
	Result string `json:"result"`
	Err    string `json:"error,omitempty"`
	Steps  uint64 `json:"steps"`
	Hash   string `json:"hash"` // final state hash, hex
	// LatencyNS is spawn to completion as the completing node saw it: the
	// spawn time of an isolate that arrived from elsewhere is not known
	// there, so it is 0 then.
	LatencyNS int64 `json:"latency_ns,omitempty"`
}

// Event is a migration event as a node publishes it.
type Event struct {
	Kind       string `json:"kind"`
	Node       uint32 `json:"node"`
	Peer       uint32 `json:"peer"`
	ID         string `json:"id"`
	Epoch      uint64 `json:"epoch"`
	PC         uint32 `json:"pc"`
	Steps      uint64 `json:"steps"`
	Hash       string `json:"hash"`
	Bytes      int    `json:"bytes"`
	DowntimeNS int64  `json:"downtime_ns,omitempty"`
}

func resultOf(c cluster.Completion) Result {
	return Result{
		ID: FormatID(c.ID), Node: uint32(c.Node), Epoch: c.Epoch, Status: c.Status.String(),
		Result: c.Result, Err: c.Err, Steps: c.Steps, Hash: hex.EncodeToString(c.Hash[:]),
	}
}

func eventOf(e cluster.Event) Event {
	return Event{
		Kind: e.Kind.String(), Node: uint32(e.Node), Peer: uint32(e.Peer), ID: FormatID(e.ID), Epoch: e.Epoch,
		PC: e.PC, Steps: e.Steps, Hash: hex.EncodeToString(e.Hash[:]), Bytes: e.Bytes, DowntimeNS: int64(e.Downtime),
	}
}

// FormatID writes an isolate id as knoten ps shows it: "<spawner>-<seq>".
func FormatID(id cluster.IsolateID) string { return ledger.IsolateID(id).String() }

// ParseID reads an id written by FormatID.
func ParseID(s string) (cluster.IsolateID, error) {
	node, seq, ok := strings.Cut(s, "-")
	n, err1 := strconv.ParseUint(node, 10, 32)
	q, err2 := strconv.ParseUint(seq, 10, 32)
	if !ok || err1 != nil || err2 != nil || q == 0 {
		return 0, fmt.Errorf("isolate id %q: want <node>-<seq>, as knoten ps shows it", s)
	}
	return cluster.IsolateID(ledger.MakeID(ledger.NodeID(n), uint32(q))), nil
}

var clusterName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// CheckClusterName: a cluster name is a subject token and part of
// JetStream bucket names, so 1 to 32 of A-Z a-z 0-9 _ -.
func CheckClusterName(c string) error {
	if !clusterName.MatchString(c) {
		return fmt.Errorf("cluster name %q: want 1 to 32 of A-Z a-z 0-9 _ -", c)
	}
	return nil
}

// LedgerBucket and NodesBucket are cluster C's JetStream KV buckets: the
// ownership ledger, and the counter that hands out node ids to members
// that join without credentials naming one.
func LedgerBucket(c string) string { return "knoten-" + c + "-ledger" }

// NodesBucket: see LedgerBucket.
func NodesBucket(c string) string { return "knoten-" + c + "-nodes" }
