package bolt

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileName is the data file's name in the store's directory.
const FileName = "ccgw.db"

// Options configure OpenWith. Zero values mean the defaults given.
type Options struct {
	// Recover moves a damaged data file aside, to ccgw.db.damaged-<UTC time>,
	// logs a warning and starts with an empty one, where Open would fail with a
	// *DamagedError.
	Recover bool
	// Log gets the warning of a recovery and write failures; discards if nil.
	Log *slog.Logger
	// Now names a file moved aside; time.Now if nil.
	Now func() time.Time
	// LockTimeout is how long to wait for another process's lock on the file; 5s.
	LockTimeout time.Duration
	// MaxSize caps the data file's size in bytes (bbolt's MaxSize): a commit that
	// would grow it past this fails, as on a full disk. 0: no cap.
	MaxSize int
}

// DamagedError says the data file cannot be used as it is: it is empty, not a
// bbolt file, or fails the consistency check (structure or records).
type DamagedError struct {
	Path   string
	Reason string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("data file %s is damaged (%s)", e.Path, e.Reason)
}

// damaged returns a *DamagedError for path, its reason on one line.
func damaged(path string, format string, args ...any) *DamagedError {
	return &DamagedError{Path: path, Reason: strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")}
}

// OpenWith opens (creating if needed) the store in dir/ccgw.db. A file that is
// there is checked before use: a 0-byte file, one that is not bbolt's, or one
// that fails checkFile, bbolt's own Tx.Check or the decoding of a session or
// event record is damaged: OpenWith returns a *DamagedError naming it, or, with
// o.Recover, moves it aside and opens an empty store. No damage makes it panic
// or fault. A file another process holds is not damaged: after o.LockTimeout
// OpenWith fails with an error that says so.
func OpenWith(dir string, o Options) (*Store, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 5 * time.Second
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bolt: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := openChecked(path, o)
	var dmg *DamagedError
	if errors.As(err, &dmg) && o.Recover {
		aside := path + ".damaged-" + o.Now().UTC().Format("20060102T150405.000Z")
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("bolt: moving the damaged data file aside: %w", rerr)
		}
		o.Log.Warn("data file damaged: moved aside, starting empty", "file", path, "moved_to", aside, "reason", dmg.Reason)
		db, err = openChecked(path, o)
	}
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{sessionsBucket, passwordsBucket, lockoutsBucket} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: init: %w", err)
	}
	return &Store{db: db, w: newCommitter(db, o.Log)}, nil
}

// openChecked opens the bbolt file at path after checking it (OpenWith).
func openChecked(path string, o Options) (db *bolt.DB, err error) {
	fi, err := os.Stat(path)
	exists := err == nil
	switch {
	case errors.Is(err, os.ErrNotExist): // a new store
	case err != nil:
		return nil, fmt.Errorf("bolt: %w", err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("bolt: %s is not a regular file", path)
	case fi.Size() == 0:
		// bbolt would take it for a new file and start empty without a word.
		return nil, damaged(path, "0 bytes")
	}
	// checkFile leaves nothing for bbolt to fault on, and touches the map only
	// where the file has bytes; this is the second line, should a page fault all
	// the same (the file shrinking under us, an I/O error) or bbolt panic on
	// something checkFile missed: a fault panics instead of killing the process,
	// and a panic is the file's damage.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if db != nil {
				closeQuietly(db)
			}
			db, err = nil, damaged(path, "%v", p)
		}
	}()
	if exists {
		if cerr := checkFile(path); cerr != nil {
			return nil, damaged(path, "%v", cerr)
		}
	}
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: o.LockTimeout, MaxSize: o.MaxSize})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("bolt: data file %s is in use by another process (still locked after %v)", path, o.LockTimeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, damaged(path, "%v", err)
	case err != nil:
		return nil, fmt.Errorf("bolt: open: %w", err)
	}
	if err := checkRecords(db); err != nil {
		db.Close()
		return nil, damaged(path, "%v", err)
	}
	return db, nil
}

// closeQuietly closes a db that panicked: its Close may panic too.
func closeQuietly(db *bolt.DB) {
	defer func() { _ = recover() }()
	db.Close()
}

// checkRecords checks every session, event and acknowledgement record: its key
// has the store's shape and its value decodes (checkSessionRecord,
// checkEventRecord: they allocate nothing, so a million records cost a tenth
// of a second). bbolt's own Tx.Check is not run: checkFile checked all it
// checks, and it costs a tenth of a restart.
func checkRecords(db *bolt.DB) error {
	return db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(sessionsBucket); b != nil {
			err := b.ForEach(func(k, v []byte) error {
				if len(k) != 4 {
					return fmt.Errorf("session key %s", hex.EncodeToString(k))
				}
				agent, err := checkSessionRecord(v)
				if err != nil {
					return fmt.Errorf("session record %s: %w", hex.EncodeToString(k), err)
				}
				if uint64(binary.BigEndian.Uint32(k)) != agent {
					return fmt.Errorf("session record %s holds agent %d", hex.EncodeToString(k), agent)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if b := tx.Bucket(eventsBucket); b != nil {
			err := b.ForEach(func(k, v []byte) error {
				if len(k) != 20 {
					return fmt.Errorf("event key %s", hex.EncodeToString(k))
				}
				if err := checkEventRecord(v); err != nil {
					return fmt.Errorf("event record %s: %w", hex.EncodeToString(k), err)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if b := tx.Bucket(acksBucket); b != nil {
			return b.ForEach(func(k, v []byte) error {
				if len(k) != 12 || len(v) != 8 {
					return fmt.Errorf("acknowledgement %s", hex.EncodeToString(k))
				}
				return nil
			})
		}
		return nil
	})
}

// checkSessionRecord reports whether decodeSession would decode v, and the
// agent it names, without decoding it: no allocation for a version 1 record.
func checkSessionRecord(v []byte) (agent uint64, err error) {
	if len(v) == 0 || v[0] != recV1 {
		var s ccgw.Session
		err := decodeSession(v, &s)
		return uint64(s.Agent), err
	}
	a, err := ccgw.CheckSessionBinary(v)
	return uint64(a), err
}

// checkEventRecord reports whether an eventDecoder would decode v, without
// decoding it: no allocation for a version 1 record.
func checkEventRecord(v []byte) error {
	if len(v) == 0 || v[0] != recV1 {
		var d eventDecoder
		var ev ccgw.Event
		return d.decode(v, &ev)
	}
	r := ccgw.NewBinaryReader(v[1:])
	r.Varint()
	nt, nw, nc := r.Uvarint(), r.Uvarint(), r.Uvarint()
	if r.Err() != nil {
		return r.Err()
	}
	if nc > 0 {
		nc--
	}
	if nt+nw+nc != uint64(len(r.Rest())) || nt+nw < nt || nt+nw+nc < nc {
		return errShort
	}
	return nil
}
