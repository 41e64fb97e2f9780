package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// JetStreamConfig configures a ledger on a JetStream KV bucket.
type JetStreamConfig struct {
	// Bucket names the KV bucket; DefaultBucket if empty. Every node of a
	// cluster must use the same one.
	Bucket string
	// Replicas is how many servers hold the bucket: 1 on a single
	// (embedded) server, 3 on a NATS cluster (it survives one server's
	// loss), at most 5. 0 means 1.
	Replicas int
	// History is how many revisions of each key the bucket keeps, 1..64
	// (0 means 1). The ledger needs only the latest; more is for audits
	// and tests.
	History uint8
	// Memory stores the bucket in the servers' memory instead of on disk:
	// faster, and lost if every replica restarts. Default: file storage.
	Memory bool
}

// maxMessage bounds a ledger message in the bucket: headers and value.
const maxMessage = 512

// DefaultBucket is the KV bucket a ledger uses unless configured.
const DefaultBucket = "knoten-ledger"

// JetStream is a Ledger on a JetStream KV bucket. Each write is a KV
// Create (expects no such key) or Update (expects the key's last
// revision), which the stream's leader orders and, with several replicas,
// commits through Raft before it answers: the compare-and-set is
// linearizable per key. Safe for concurrent use.
type JetStream struct {
	kv jetstream.KeyValue
}

var _ Ledger = (*JetStream)(nil)

// OpenJetStream creates the bucket if it does not exist (or updates its
// configuration if it does) and returns a ledger on it.
func OpenJetStream(ctx context.Context, js jetstream.JetStream, cfg JetStreamConfig) (*JetStream, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Replicas < 1 || cfg.Replicas > 5 {
		return nil, fmt.Errorf("ledger: %d replicas, want 1..5", cfg.Replicas)
	}
	if cfg.History == 0 {
		cfg.History = 1
	}
	if cfg.History > 64 {
		return nil, fmt.Errorf("ledger: history %d, want 1..64", cfg.History)
	}
	storage := jetstream.FileStorage
	if cfg.Memory {
		storage = jetstream.MemoryStorage
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "KnotenCore ownership ledger: isolate -> owner, epoch",
		// The server applies the limit to headers and value together
		// (a CAS carries a header), so it cannot be the 16 bytes of an
		// entry; it still keeps anyone from parking large values here.
		MaxValueSize: maxMessage,
		History:      cfg.History,
		Storage:      storage,
		Replicas:     cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: bucket %s: %w", cfg.Bucket, err)
	}
	return &JetStream{kv: kv}, nil
}

// BindJetStream returns a ledger on bucket (DefaultBucket if empty), which
// must exist already: it neither creates the bucket nor changes its
// configuration. It is how a reader opens the ledger (a client listing
// isolates, under ReaderSubjects): its reads work, and its writes are
// refused by the server.
func BindJetStream(ctx context.Context, js jetstream.JetStream, bucket string) (*JetStream, error) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("ledger: bucket %s: %w", bucket, err)
	}
	return &JetStream{kv: kv}, nil
}

// KV is the bucket, for inspection (knoten ps, audits).
func (j *JetStream) KV() jetstream.KeyValue { return j.kv }

// Key is the KV key of an isolate: "iso.<spawner>.<seq>".
func Key(id IsolateID) string {
	return "iso." + strconv.FormatUint(uint64(id.Spawner()), 10) + "." + strconv.FormatUint(uint64(id.Seq()), 10)
}

func counterKey(node NodeID) string { return "ids." + strconv.FormatUint(uint64(node), 10) }

// Create implements Ledger.
func (j *JetStream) Create(ctx context.Context, id IsolateID, owner NodeID) (Entry, error) {
	e := Entry{Owner: owner, State: Running}
	rev, err := j.kv.Create(ctx, Key(id), appendEntry(make([]byte, 0, entrySize), e))
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return Entry{}, ErrExists
		}
		return Entry{}, fmt.Errorf("ledger: create %v: %w", id, err)
	}
	e.Revision = rev
	return e, nil
}

// Get implements Ledger. With several replicas the read may be served by a
// replica that lags (KV buckets allow direct gets).
func (j *JetStream) Get(ctx context.Context, id IsolateID) (Entry, error) {
	kve, err := j.kv.Get(ctx, Key(id))
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return Entry{}, ErrNotFound
		}
		return Entry{}, fmt.Errorf("ledger: get %v: %w", id, err)
	}
	e, err := decodeEntry(kve.Value())
	if err != nil {
		return Entry{}, fmt.Errorf("%v: %w", id, err)
	}
	e.Revision = kve.Revision()
	return e, nil
}

// Transfer implements Ledger.
func (j *JetStream) Transfer(ctx context.Context, id IsolateID, from Entry, to NodeID) (Entry, error) {
	if err := checkTransfer(from); err != nil {
		return Entry{}, err
	}
	return j.swap(ctx, id, from, Entry{Owner: to, Epoch: from.Epoch + 1, State: Running})
}

// Finish implements Ledger.
func (j *JetStream) Finish(ctx context.Context, id IsolateID, by Entry) (Entry, error) {
	if err := checkTransfer(by); err != nil {
		return Entry{}, err
	}
	return j.swap(ctx, id, by, Entry{Owner: by.Owner, Epoch: by.Epoch, State: Finished})
}

func (j *JetStream) swap(ctx context.Context, id IsolateID, from, next Entry) (Entry, error) {
	var buf [entrySize]byte
	rev, err := j.kv.Update(ctx, Key(id), appendEntry(buf[:0], next), from.Revision)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return Entry{}, ErrConflict
		}
		return Entry{}, fmt.Errorf("ledger: write %v: %w", id, err)
	}
	next.Revision = rev
	return next, nil
}

// ReserveIDs implements Ledger: a compare-and-set on the node's counter
// key, "ids.<node>", retried while other writers (two processes claiming
// one node id) move it.
func (j *JetStream) ReserveIDs(ctx context.Context, node NodeID, n uint32) (IsolateID, error) {
	key := counterKey(node)
	for {
		next, rev := uint64(1), uint64(0)
		kve, err := j.kv.Get(ctx, key)
		switch {
		case err == nil:
			if next, err = decodeCounter(kve.Value()); err != nil {
				return 0, fmt.Errorf("%s: %w", key, err)
			}
			rev = kve.Revision()
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return 0, fmt.Errorf("ledger: reserve ids: %w", err)
		}
		first, after, err := reserve(next, n)
		if err != nil {
			return 0, err
		}
		val := make([]byte, counterSize)
		putCounter(val, after)
		if rev == 0 {
			_, err = j.kv.Create(ctx, key, val)
		} else {
			_, err = j.kv.Update(ctx, key, val, rev)
		}
		if err == nil {
			return MakeID(node, uint32(first)), nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return 0, fmt.Errorf("ledger: reserve ids: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}

// InboxPrefix is the reply-inbox prefix node's connection must use
// (nats.CustomInboxPrefix) under MemberSubjects: "_INBOX_<node>", so
// that a member can read the replies to its own requests only.
func InboxPrefix(node NodeID) string {
	return "_INBOX_" + strconv.FormatUint(uint64(node), 10)
}

// MemberSubjects are the subjects an authenticated member node needs, on
// top of its transport's, to use the ledger in bucket (DefaultBucket if
// empty): publish on the bucket's JetStream API subjects (create or update
// the bucket, read it directly or through a consumer, as History and
// Watch do) and its $KV subjects; subscribe to its own inbox only (see
// InboxPrefix). The permissions are per bucket, not per key: any member
// may write any entry, so members remain trusted to run the protocol.
func MemberSubjects(bucket string, node NodeID) (publish, subscribe []string) {
	if bucket == "" {
		bucket = DefaultBucket
	}
	stream := "KV_" + bucket
	api := "$JS.API."
	publish = append(ReaderSubjects(bucket),
		api+"STREAM.CREATE."+stream,
		api+"STREAM.UPDATE."+stream,
		"$KV."+bucket+".>",
	)
	return publish, []string{InboxPrefix(node) + ".>"}
}

// ReaderSubjects are the subjects a connection must be allowed to publish
// on to read the ledger in bucket (DefaultBucket if empty) and nothing
// more: look the bucket up (BindJetStream), get entries directly or
// through a consumer (History, Watch, Keys). Not the bucket's creation or
// configuration, nor its $KV subjects, through which every write (put,
// delete, purge) goes. The reader must also subscribe to its own reply
// inbox, which the caller chooses.
func ReaderSubjects(bucket string) []string {
	if bucket == "" {
		bucket = DefaultBucket
	}
	stream := "KV_" + bucket
	api := "$JS.API."
	return []string{
		api + "INFO",
		api + "STREAM.INFO." + stream,
		api + "STREAM.MSG.GET." + stream,
		api + "DIRECT.GET." + stream,
		api + "DIRECT.GET." + stream + ".>",
		api + "CONSUMER.CREATE." + stream,
		api + "CONSUMER.CREATE." + stream + ".>",
		api + "CONSUMER.INFO." + stream + ".>",
		api + "CONSUMER.DELETE." + stream + ".>",
		"$JS.FC." + stream + ".>",
	}
}
