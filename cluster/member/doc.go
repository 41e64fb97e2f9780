// Package member runs one KnotenCore node as a member of a cluster whose
// nodes are separate processes, possibly on separate machines, talking over
// NATS; and it is the client (knoten submit, ps, migrate, drain) that
// talks to them.
//
// A member process holds, over one NATS connection of its own:
//
//   - the node's runtime: a cluster.Cluster running one local node
//     (cluster.Config.Local), its workers and its deques;
//   - the transport: cluster/natsnet, the node's messages on
//     knoten.<C>.to.<dest>.from.<src>, the sender read from the subject;
//   - the ownership ledger: cluster/ledger on a JetStream KV bucket
//     (LedgerBucket), one replica on a single server, three on a NATS
//     cluster (Options.Replicas). The node runs an offered isolate only
//     once the ledger moved it there, drops a parked copy only once the
//     ledger shows it moved, and publishes a completion only once the
//     ledger records it finished by the node at the epoch it holds;
//   - the failure detector: natsnet.Detector, heartbeats on
//     knoten.<C>.alive.<id>, its reports fed to cluster.Cluster.SetPeer;
//   - the control subjects (see wire.go) that the client uses.
//
// Nothing is shared in memory between members: a result reaches the
// client as a message on knoten.<C>.done.<isolate>, published once, after
// the ledger's Finish.
//
// # Node ids
//
// A node's id is its member credentials' (natsnet.Member) if it has them:
// the server then lets it send only as that id. Without credentials it
// takes the next id from a counter in the cluster's nodes bucket, by
// compare-and-set. Ids are never reused: a node that restarts is a new
// node, and the isolates the ledger records as owned by its old id are
// the ones it lost when it died. That keeps "lost with a dead node" a
// question the ledger answers, and leaves room for durable checkpoints
// later: a checkpoint would carry the isolate's entry, and a successor
// would take it over with one ledger Transfer from the dead owner.
//
// # What a member trusts
//
// The transport authenticates senders; the ledger decides ownership; a
// member is trusted to run the protocol (it could write any ledger entry:
// the bucket's permissions are per bucket, not per key). See the README's
// threat model.
package member
