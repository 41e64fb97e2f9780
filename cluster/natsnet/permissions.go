package natsnet

import (
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/knotencore/knoten/cluster"
	"github.com/knotencore/knoten/cluster/ledger"
)

// ControlQueue is the queue group members subscribe to
// knoten.<C>.ctl.any.> in, so that a request to any member reaches one.
// Their permissions allow no other way to subscribe there.
const ControlQueue = "knoten"

// ControlPrefix is the prefix of node's control subjects,
// "knoten.<C>.ctl.<node>": a client's request to that node goes on a
// subject below it (ControlPrefix(c, 3)+".drain", say), which node
// subscribes to with ControlPrefix(c, node)+".>".
func ControlPrefix(clusterName string, node cluster.NodeID) string {
	return "knoten." + clusterName + ".ctl." + strconv.FormatUint(uint64(node), 10)
}

// ControlAnyPrefix is the prefix of the control subjects any one member
// may answer, "knoten.<C>.ctl.any" (a submission, say); members subscribe
// to ControlAnyPrefix(c)+".>" in the queue group ControlQueue.
func ControlAnyPrefix(clusterName string) string { return "knoten." + clusterName + ".ctl.any" }

// ControlAllPrefix is the prefix of the control subjects every member
// answers, "knoten.<C>.ctl.all" (ps gathers from all; a migrate request
// is answered by whichever holds the isolate).
func ControlAllPrefix(clusterName string) string { return "knoten." + clusterName + ".ctl.all" }

// EventPrefix is the prefix of the migration-event subjects,
// "knoten.<C>.event": member X publishes on EventPrefix(c)+".X" only,
// clients subscribe to EventPrefix(c)+".>".
func EventPrefix(clusterName string) string { return "knoten." + clusterName + ".event" }

// DonePrefix is the prefix of the completion subjects, "knoten.<C>.done":
// members publish below it, clients subscribe to DonePrefix(c)+".>".
func DonePrefix(clusterName string) string { return "knoten." + clusterName + ".done" }

// AliveSubject is node's heartbeat subject, "knoten.<C>.alive.<node>"
// (see Detector).
func AliveSubject(clusterName string, node cluster.NodeID) string {
	return alivePrefix(clusterName) + strconv.FormatUint(uint64(node), 10)
}

// clientInboxRoot is where every client's reply inbox lives (see
// ClientInboxPrefix).
const clientInboxRoot = "_INBOX_client"

// ClientInboxPrefix is the reply-inbox prefix of the client with NKey
// publicKey, "_INBOX_client.<publicKey>": its connection must use it
// (Connect does), so that it receives the answers to its requests and no
// one else's. Members may publish below clientInboxRoot, and nowhere else
// outside the cluster's own subjects, to answer.
func ClientInboxPrefix(publicKey string) string { return clientInboxRoot + "." + publicKey }

// IsClientInbox reports whether subject is in a client's reply inbox: the
// only place a member answers a request, whatever reply subject the
// request names (a member may publish on the ledger's and its own
// subjects, and a request must not make it write there).
func IsClientInbox(subject string) bool { return strings.HasPrefix(subject, clientInboxRoot+".") }

// FullMemberPermissions returns everything member node of cluster
// clusterName may do, with the ownership ledger in bucket
// (ledger.DefaultBucket if empty):
//
//	publish    knoten.<C>.to.*.from.<node>[.chunk]  the transport (MemberPermissions)
//	           knoten.<C>.alive.<node>              its heartbeat
//	           knoten.<C>.done.>                    completions
//	           _INBOX_client.>                      answers to clients' requests
//	           ledger.MemberSubjects                the ledger's JetStream API and $KV subjects
//	subscribe  knoten.<C>.to.<node>.>               the transport
//	           knoten.<C>.alive.*                   everyone's heartbeats
//	           knoten.<C>.ctl.<node>.>              requests to it
//	           knoten.<C>.ctl.any.> (queue knoten)  requests to any member
//	           _INBOX_<node>.>                      the answers to its own requests (ledger.InboxPrefix)
//
// Answers go to clients' inboxes only, not to whatever reply subject a
// request names (the server's allow_responses): with that, a client could
// name knoten.<C>.to.X.from.Y as its reply subject and have a member's
// answer delivered to X as if Y had sent it.
func FullMemberPermissions(clusterName string, node cluster.NodeID, bucket string) *server.Permissions {
	p := MemberPermissions(clusterName, node)
	lpub, lsub := ledger.MemberSubjects(bucket, ledger.NodeID(node))
	p.Publish.Allow = append(p.Publish.Allow,
		AliveSubject(clusterName, node),
		DonePrefix(clusterName)+"."+strconv.FormatUint(uint64(node), 10)+".>",
		EventPrefix(clusterName)+"."+strconv.FormatUint(uint64(node), 10),
		clientInboxRoot+".>",
	)
	p.Publish.Allow = append(p.Publish.Allow, lpub...)
	p.Subscribe.Allow = append(p.Subscribe.Allow,
		alivePrefix(clusterName)+"*",
		ControlPrefix(clusterName, node)+".>",
		ControlAnyPrefix(clusterName)+".> "+ControlQueue,
		ControlAllPrefix(clusterName)+".>",
	)
	p.Subscribe.Allow = append(p.Subscribe.Allow, lsub...)
	return p
}

// ClientPermissions returns what the client with NKey publicKey (the
// knoten submit, ps, migrate and drain commands) may do on cluster
// clusterName, with the ledger in bucket (ledger.DefaultBucket if empty):
//
//	publish    knoten.<C>.ctl.>                  requests to members
//	           ledger.ReaderSubjects             reading the ledger, not writing it
//	subscribe  _INBOX_client.<publicKey>.>       the answers to its own requests
//	           knoten.<C>.done.>                 completions
//
// A client cannot send or read the cluster's messages, beat, or answer
// requests.
func ClientPermissions(clusterName, publicKey, bucket string) *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: append(
			[]string{"knoten." + clusterName + ".ctl.>"},
			ledger.ReaderSubjects(bucket)...)},
		Subscribe: &server.SubjectPermission{Allow: []string{
			ClientInboxPrefix(publicKey) + ".>",
			DonePrefix(clusterName) + ".>",
			EventPrefix(clusterName) + ".>",
		}},
	}
}
