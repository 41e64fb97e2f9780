// Package natsnet carries cluster messages over NATS core: a
// cluster.Transport (and cluster.Recycler) for nodes in separate processes,
// a failure detector (Detector), and what an authenticated deployment
// needs around them: NKey identities for members and clients, their
// credentials files and subject permissions, a self-signed TLS certificate
// and an embedded server.
//
// # Subjects
//
// Every node has its own connection. A message from node S to node D of
// cluster C travels on
//
//	knoten.<C>.to.<D>.from.<S>         a whole message, the payload unframed
//	knoten.<C>.to.<D>.from.<S>.chunk   one chunk of a larger message
//
// with node ids in decimal (no sign, no leading zeros, below 2^32). Node D
// subscribes once, to knoten.<C>.to.<D>.>, and reads S out of the subject
// of each message it receives; a subject outside the scheme is dropped and
// counted (Stats.BadSubject). The bytes never name their sender. A message
// with a reply subject or headers is dropped too (Stats.BadEnvelope): no
// transport sends one, and the server does, on subjects others choose
// (see the threat model).
//
// Around the transport, all under knoten.<C>.:
//
//	alive.<X>          X's heartbeat (Detector)
//	ctl.<X>.<verb>     a client's request to node X (ControlPrefix)
//	ctl.any.<verb>     a client's request to any one member (ControlAnyPrefix,
//	                   queue group ControlQueue)
//	ctl.all.<verb>     a client's request every member receives (ControlAllPrefix)
//	done.<X>.<…>       completions, published by member X only (DonePrefix)
//	event.<X>          X's migration events (EventPrefix)
//
// and the reply inboxes: _INBOX_<X> for member X (ledger.InboxPrefix),
// _INBOX_client.<public key> for a client (ClientInboxPrefix). Connect
// sets the one its identity may read. The ownership ledger's JetStream
// subjects are the ledger package's (ledger.MemberSubjects,
// ledger.ReaderSubjects).
//
// # Failure detection
//
// A Detector (StartDetector) gives a node its view of the membership:
// which peers are up, by id, with their names. Every node publishes a
// heartbeat every Period (100 ms by default) on
//
//	knoten.<C>.alive.<X>               X's heartbeat
//
// and subscribes to knoten.<C>.alive.*. As for messages, the sender is the
// subject's last token, never the payload's: a heartbeat carries only the
// sender's name (a label, at most 64 bytes of printable UTF-8) and its
// incarnation (its start time by default), ten bytes and the name. A
// peer is up from its first heartbeat, down after Timeout (1 s by
// default) without one, and up again at its next; one that comes back
// with a higher incarnation, even within Timeout, restarted: it is
// reported down and up, so that whatever the cluster knew of its previous
// life is let go. A heartbeat of a lower incarnation than the peer's
// current one (a previous life's, late, or a second process started with
// the same id) is ignored and counted, and so is anything that is not a
// heartbeat (DetectorStats). The detector reports from one goroutine, in
// order; down is a suspicion, not a fact: a node reported down may be
// alive and cut off, which is why the ledger's revisions, not the
// detector, decide who owns an isolate (cluster/ledger: Fencing).
//
// Why heartbeats on a subject, and not
//
//   - the server's connection events: a paused process (SIGSTOP, a long
//     GC or swap storm, a VM frozen by its host) keeps its TCP connection
//     open (the kernel still acknowledges), and the server notices only
//     after pings go unanswered, two of them at its ping interval of
//     2 min by default; a heartbeat stops the moment the process stops. They also need the system account, which
//     members should not reach.
//   - a JetStream KV bucket with a TTL per key: every heartbeat would be a
//     replicated write, a Raft round per node per period stored on disk,
//     competing with the ledger's commits on the same meta and stream
//     leaders, and the TTL's expiry is coarse and the server's, not the
//     observer's.
//
// A heartbeat on NATS core costs each node one publish per Period
// whatever the cluster's size: the server fans it out. Each node receives
// n-1 per Period, about 20 bytes each; a few hundred nodes stay far below
// what one connection carries. Silence is measured on the receiver's
// clock (monotonic), never the sender's, so clocks need not agree.
//
// # Who a sender is
//
// With members configured (EmbeddedOptions.Members), the server admits only
// connections that sign its nonce with a member's or a client's NKey
// (EmbeddedOptions.Clients), and gives each these permissions:
//
//	                 member X (FullMemberPermissions)      client (ClientPermissions)
//	publish          knoten.<C>.to.*.from.X[.chunk]         knoten.<C>.ctl.>
//	                 knoten.<C>.alive.X                     ledger.ReaderSubjects (read only)
//	                 knoten.<C>.done.X.>
//	                 knoten.<C>.event.X
//	                 _INBOX_client.>
//	                 ledger.MemberSubjects (read, write)
//	subscribe        knoten.<C>.to.X.>                      _INBOX_client.<its key>.>
//	                 knoten.<C>.alive.*                     knoten.<C>.done.>
//	                 knoten.<C>.ctl.X.>                     knoten.<C>.event.>
//	                 knoten.<C>.ctl.any.> in queue knoten
//	                 knoten.<C>.ctl.all.>
//	                 _INBOX_X.>
//
// (MemberPermissions is the transport's part alone, what
// EmbeddedOptions.TransportOnly gives.) So a message on ...from.X, or a
// heartbeat on alive.X, was published by whoever holds X's seed, and only
// X reads what is addressed to X. A member that publishes on another's
// subjects, or subscribes to another's messages or requests, is refused
// by the server: the message goes nowhere, and the member's connection
// reports a permissions violation (nats.ErrPermissionViolation) to its
// error handler. A client can ask and read, not act as a node.
//
// Members answer requests only into clients' inboxes, not to whatever
// reply subject a request names (the server's allow_responses): the
// server does not check a reply subject against the requester's
// permissions, so with allow_responses a client could name
// knoten.<C>.to.X.from.Y and have a member's answer delivered to X as Y's
// message (TestAttackReplySubject).
//
// Credentials files (WriteCreds, ReadCreds) carry an identity's role, a
// member's node id and its seed, in two lines:
//
//	knoten-member 3          knoten-client
//	SU…                      SU…
//
// # Threat model, as far as the transport goes
//
// DESIGN.md: anyone who can reach the network but holds no member
// credentials must not be able to inject, replay or forge a message that
// changes what runs; a member is trusted to run the protocol.
//
//   - Without credentials a connection is refused. Without members
//     configured the server admits anyone, who can then claim any sender:
//     that mode is for a single process on loopback.
//   - A client can ask members (ctl), read the ledger and hear
//     completions; it cannot send a cluster message, beat, answer a
//     request, or write the ledger.
//   - A member can send only as itself, so it cannot forge another's ACK,
//     NACK, OFFER or heartbeat. It can still resend, as itself, what it legitimately
//     received (a replayed OFFER to a third node comes from the replayer,
//     not from the isolate's owner); stopping that takes the ownership
//     ledger's epochs, not the transport.
//   - The server publishes on subjects its requesters choose, unchecked by
//     their permissions: a JetStream answer goes to the request's reply
//     subject, a push consumer delivers where its creator said. Anyone
//     allowed to read the ledger, a client included, can thus have the
//     server publish on knoten.<C>.to.X.from.Y. A direct get's answer has
//     headers and a consumer's delivery a reply subject: the transport and
//     the detector drop both (Stats.BadEnvelope, DetectorStats.Malformed).
//     What passes is the API's JSON
//     answers, which start with '{', no message kind of the cluster and no
//     heartbeat version, and which, on a chunk subject, claim a length
//     far above MaxMessage: noise, dropped and counted.
//   - Beyond one machine, use TLS (EmbeddedOptions.TLS, Credentials.CAFile):
//     without it anyone on the path reads the states and can tamper with
//     the TCP stream; the NKey handshake authenticates the connection, not
//     the bytes that follow.
//   - The state hash inside an OFFER is integrity, not authentication: it
//     catches corruption, but whoever forges a state can hash it. A state is
//     authentic because of the subject it arrived on.
//   - Untrusted bytes never crash a node (invariant 4): chunk headers are
//     checked before use (below), and the messages themselves are parsed
//     by the cluster, which checks every length.
//
// # Chunks
//
// A message larger than the connection's max_payload (1 MiB by default;
// read from the server with every Send, as it can change on reconnect; or
// Config.ChunkSize if smaller) goes in chunks, each a 24-byte header and a
// piece of the message:
//
//	seq   u64  the sender's number for this message, from a random start
//	total u64  the whole message's length
//	index u32  0..count-1
//	count u32  the number of chunks
//	piece      index's bytes of the message, at least one
//
// little-endian. A header is valid only if count >= 1, index < count,
// count <= total, and the piece is not empty and not longer than total.
// The header is a multiple of 8 bytes, so a piece keeps the buffer's
// alignment.
//
// The chunks of a message are published in order on one connection, and
// NATS keeps the order of one publisher's messages to one subscriber, so
// the receiver rebuilds a message from its sender's chunks strictly in
// order: a chunk that does not continue the sender's current message (a
// lost chunk, another message's chunk, a changed total or count) drops that
// message, an index-0 chunk supersedes whatever the sender left unfinished,
// and a message with no chunk for Config.ReassemblyTimeout is dropped
// (checked as chunks arrive for the node). The protocol above tolerates
// the loss: it resends.
//
// Memory follows the bytes received, never the lengths claimed. A message
// claiming more than Config.MaxMessage (64 MiB) is dropped at its first
// chunk. A buffer starts at twice the first piece and doubles as pieces
// arrive, up to the claimed total, unless a recycled buffer big enough is
// at hand. All unfinished messages of one node together hold at most
// Config.MaxReassembly (256 MiB), each also charged 256 bytes for its
// record; a chunk that would pass that is dropped with its message. Stats
// counts every drop by reason.
//
// # Buffers
//
// Send copies: nats.go copies msg into the connection's buffer before
// Publish returns, so the caller may reuse msg at once. A delivered
// message belongs to its receiver: a whole message is the buffer nats.go
// allocated for it, a chunked one is the reassembly buffer, and either is
// 8-byte aligned, so the codec can view an OFFER's state in place (a
// misaligned one, possible only for a message that carried NATS headers,
// is copied first). Recycle keeps buffers of 64 KiB or more, up to
// MaxMessage bytes in all, to rebuild later chunked messages in; nats.go
// allocates its own buffer for every whole message and cannot take one of
// ours, so smaller buffers are left to the garbage collector.
//
// Send does not wait for the receiver, but it is not free of waiting: when
// the connection's buffer is full, Publish writes to the socket in the
// caller's goroutine, as a large message does. While the connection is
// down, messages go into nats.go's reconnect buffer (64 MiB with Connect);
// past that they are dropped and counted (Stats.SendErrors).
//
// # Why NATS core, not JetStream, carries the states
//
// A state goes point to point, once, to a node that acknowledges it in the
// handoff protocol, which already resends, deduplicates by epoch and
// times out. JetStream would write every state to a stream and replicate
// it through Raft before delivering it: the bytes would cross the network
// and the disk again per replica, the handoff would wait for a quorum, and
// the stream would keep a copy after the handoff had freed it, a copy
// that must then be deleted and that could be redelivered. Its
// at-least-once delivery adds nothing the protocol does not do. Only what
// needs agreement goes through JetStream: the ownership ledger (isolate →
// owner, epoch), small keys updated by compare-and-set. Durable checkpoints
// that survive a node's death, a later step, fit JetStream's object store.
//
// # Delivery
//
// Like every cluster.Transport, this one may lose messages: a subscriber
// too slow for its pending limits (set to MaxReassembly + MaxMessage bytes),
// a reconnect, a server restart. NATS core does not duplicate, and keeps
// one sender's order to one receiver. Each node's messages are delivered by
// its subscription's goroutine, one at a time, so deliver must not block.
package natsnet
