// Package agent owns who the agents are (the directory, from --agents or the
// built-in default, with changed passwords as salted hashes in a
// ccgw.PasswordStore) and what state changes each agent state allows.
package agent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/ccgw/ccgw"
)

// DefaultSkills are the skills every agent of the built-in directory has.
var DefaultSkills = []ccgw.Skill{
	{ID: 1, Name: "default_voice", MediaType: 5},
	{ID: 2, Name: "default_chat", MediaType: 51},
}

// Directory is a ccgw.Directory. The zero value is not usable; use Default or Load.
type Directory struct {
	open       bool         // every work number in range exists; any password signs in until changed
	openSkills []ccgw.Skill // the skills of every agent of an open directory
	inspectors Ranges       // agents that are inspectors beside those the file marks; set before use

	hashes atomic.Uint64 // PBKDF2 derivations of password checks (tests count them)

	mu     sync.RWMutex // guards agents
	agents map[ccgw.AgentID]ccgw.Agent

	// passwords keeps changed passwords, which win over the configured ones. Set
	// before use (UsePasswords); never held under mu.
	passwords ccgw.PasswordStore
}

var (
	_ ccgw.Directory        = (*Directory)(nil)
	_ ccgw.PasswordVerifier = (*Directory)(nil)
)

// Default returns the built-in directory: every work number from ccgw.MinAgentID to
// ccgw.MaxAgentID exists with DefaultSkills and phone "7"+work number, none is an
// inspector (see AddInspectors), and any password, the empty one included, signs
// an agent in until its password is changed.
func Default() *Directory { return Open(DefaultSkills) }

// Open returns a directory like Default's whose agents all have skills.
func Open(skills []ccgw.Skill) *Directory {
	return &Directory{open: true, openSkills: skills, agents: map[ccgw.AgentID]ccgw.Agent{}, passwords: NewMemPasswords()}
}

// UsePasswords makes d keep changed passwords in s (bolt or Redis) instead of
// memory. Call it before d is in use.
func (d *Directory) UsePasswords(s ccgw.PasswordStore) { d.passwords = s }

// Hashes returns how many PBKDF2 hashes d's password checks (VerifyPassword,
// CheckPassword, ChangePassword's of the old password) have derived: the work a
// flood of sign-ins costs, which tests count.
func (d *Directory) Hashes() uint64 { return d.hashes.Load() }

// AddInspectors makes the agents in r inspectors (--inspectors), beside those
// an --agents file marks "inspector": true. Call it before d is in use.
func (d *Directory) AddInspectors(r Ranges) { d.inspectors = append(d.inspectors, r...) }

// File is the JSON form of an --agents file.
type File struct {
	Skills []ccgw.Skill `json:"skills"`
	Agents []struct {
		WorkNo    string `json:"workNo"`
		Name      string `json:"name"`
		Password  string `json:"password"`
		Phone     string `json:"phone"`
		GroupID   int    `json:"groupId"`
		Skills    []int  `json:"skills"`
		Inspector bool   `json:"inspector"`
	} `json:"agents"`
}

// Load reads an --agents file; only the agents it lists can sign in, each with
// its own password.
func Load(path string) (*Directory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("agents: %s: %w", path, err)
	}
	return FromFile(f)
}

// FromFile builds a directory from the decoded form of an --agents file.
func FromFile(f File) (*Directory, error) {
	skills := make(map[int]ccgw.Skill, len(f.Skills))
	for _, s := range f.Skills {
		skills[s.ID] = s
	}
	d := &Directory{agents: make(map[ccgw.AgentID]ccgw.Agent, len(f.Agents)), passwords: NewMemPasswords()}
	for _, a := range f.Agents {
		id, err := ccgw.ParseAgentID(a.WorkNo)
		if err != nil {
			return nil, fmt.Errorf("agents: work number %q is not in %d–%d", a.WorkNo, ccgw.MinAgentID, ccgw.MaxAgentID)
		}
		if a.Password == "" {
			return nil, fmt.Errorf("agents: agent %s has no password", a.WorkNo)
		}
		if _, dup := d.agents[id]; dup {
			return nil, fmt.Errorf("agents: agent %s listed twice", a.WorkNo)
		}
		ag := ccgw.Agent{ID: id, Name: a.Name, Password: a.Password, Phone: a.Phone, GroupID: a.GroupID, Inspector: a.Inspector}
		for _, sid := range a.Skills {
			sk, ok := skills[sid]
			if !ok {
				return nil, fmt.Errorf("agents: agent %s has unknown skill %d", a.WorkNo, sid)
			}
			ag.Skills = append(ag.Skills, sk)
		}
		d.agents[id] = ag
	}
	return d, nil
}

// Agent implements ccgw.Directory.
func (d *Directory) Agent(id ccgw.AgentID) (ccgw.Agent, bool) {
	if id < ccgw.MinAgentID || id > ccgw.MaxAgentID {
		return ccgw.Agent{}, false
	}
	d.mu.RLock()
	a, ok := d.agents[id]
	d.mu.RUnlock()
	if !ok && d.open {
		a, ok = ccgw.Agent{ID: id, Name: "agent" + id.String(), Phone: "7" + id.String(), GroupID: 1, Skills: d.openSkills}, true
	}
	if ok && !a.Inspector {
		a.Inspector = d.inspectors.Has(id)
	}
	return a, ok
}

// CheckPassword implements ccgw.Directory. A password store that cannot be read
// makes it false; VerifyPassword tells that apart from a wrong password.
func (d *Directory) CheckPassword(id ccgw.AgentID, password string) bool {
	return d.VerifyPassword(context.Background(), id, password) == nil
}

// VerifyPassword implements ccgw.PasswordVerifier: nil if password signs agent id
// in, RetBadPassword if it does not (wrong, or no such agent), RetInternal if the
// password store cannot be read. A changed password (in the store) wins over the
// configured one and over the open directory's any-password rule. The empty
// password signs in only an agent of the open directory whose password was never
// changed; it never matches a configured or changed password.
//
// The work done does not depend on whether the agent exists or changed its
// password: each call reads the store once and derives exactly one PBKDF2 hash
// of a non-empty password (against the changed password's salt, or a dummy
// one), so that its time tells neither. Two cases derive none: an empty
// password (the caller knows what it sent) and an unchanged agent of the open
// directory (there is no secret; its answer, success, tells as much anyway).
func (d *Directory) VerifyPassword(ctx context.Context, id ccgw.AgentID, password string) error {
	if id < ccgw.MinAgentID || id > ccgw.MaxAgentID {
		return ccgw.Fail(ccgw.RetBadPassword)
	}
	a, ok := d.Agent(id)
	_, rec, err := d.record(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		rec = nil
	}
	if !d.matches(a, rec, password) || !ok {
		return ccgw.Fail(ccgw.RetBadPassword)
	}
	return nil
}

// record reads agent id's password record: raw as stored (nil if the password
// was never changed) and decoded. A store failure is RetInternal.
func (d *Directory) record(ctx context.Context, id ccgw.AgentID) ([]byte, *PasswordRecord, error) {
	raw, err := d.passwords.Password(ctx, id)
	if err != nil {
		return nil, nil, &ccgw.Error{Code: ccgw.RetInternal, Err: fmt.Errorf("password store: %w", err)}
	}
	if len(raw) == 0 {
		return nil, nil, nil
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return nil, nil, &ccgw.Error{Code: ccgw.RetInternal, Err: fmt.Errorf("agent %s: %w", id, err)}
	}
	return raw, &rec, nil
}

// dummyHash stands for the password of an agent that never changed it (or does
// not exist): a check derives one hash against it, as against a changed
// password's, and it matches nothing (no password derives 32 zero bytes).
var dummyHash = PasswordHash{Alg: passwordAlg, Iter: PasswordIter, Salt: make([]byte, saltLen), Hash: make([]byte, hashLen)}

// matches reports whether password is agent a's, given its record (nil if its
// password was never changed). Unless password is empty, or there is no secret
// at all (an unchanged agent of the open directory, which any password signs
// in), it derives exactly one PBKDF2 hash, whichever case it is (see
// VerifyPassword).
func (d *Directory) matches(a ccgw.Agent, rec *PasswordRecord, password string) bool {
	if rec == nil && a.Password == "" && d.open {
		return true // no secret to keep: any password, the empty one too
	}
	if password == "" {
		return false
	}
	h := dummyHash
	if rec != nil {
		h = rec.Current
	}
	d.hashes.Add(1)
	hashed := h.Matches(password)
	switch {
	case rec != nil:
		return hashed
	case a.Password == "":
		return d.open // open directory: any password
	default:
		return subtle.ConstantTimeCompare([]byte(password), []byte(a.Password)) == 1
	}
}

// SetPassword implements ccgw.Directory: agent id's password becomes password,
// with no rules checked and its history kept. It returns once the change is
// stored (RetInternal if the store fails).
func (d *Directory) SetPassword(id ccgw.AgentID, password string) error {
	if _, ok := d.Agent(id); !ok {
		return ccgw.Fail(ccgw.RetQueryNoAgent)
	}
	// The ccgw.Directory method has no context: the admin's and tests' change.
	return d.swap(context.Background(), id, func(cur *PasswordRecord) (PasswordRecord, error) {
		rec := PasswordRecord{Current: hashPassword(password)}
		if cur != nil {
			rec.History = cur.History
		}
		return rec, nil
	})
}

// swap replaces agent id's password record with what next makes of the stored
// one (nil if none), retrying when another change got in between (up to
// swapAttempts times, then RetPwdChangeFailed). An error from next is returned
// as it is. It returns once the new record is stored.
func (d *Directory) swap(ctx context.Context, id ccgw.AgentID, next func(cur *PasswordRecord) (PasswordRecord, error)) error {
	for range swapAttempts {
		raw, cur, err := d.record(ctx, id)
		if err != nil {
			return err
		}
		rec, err := next(cur)
		if err != nil {
			return err
		}
		ok, err := d.passwords.SwapPassword(ctx, id, raw, encodeRecord(rec))
		if err != nil {
			return &ccgw.Error{Code: ccgw.RetInternal, Err: fmt.Errorf("password store: %w", err)}
		}
		if ok {
			return nil
		}
	}
	return ccgw.Errorf(ccgw.RetPwdChangeFailed, "agent %s: password changed concurrently %d times", id, swapAttempts)
}

// Skill returns the skill with id, if the directory knows it.
func (d *Directory) Skill(id int) (ccgw.Skill, bool) {
	for _, s := range d.Skills() {
		if s.ID == id {
			return s, true
		}
	}
	return ccgw.Skill{}, false
}

// Skills returns every skill known to the directory.
func (d *Directory) Skills() []ccgw.Skill {
	if d.open {
		return d.openSkills
	}
	seen := map[int]bool{}
	var out []ccgw.Skill
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, a := range d.agents {
		for _, s := range a.Skills {
			if !seen[s.ID] {
				seen[s.ID] = true
				out = append(out, s)
			}
		}
	}
	return out
}
