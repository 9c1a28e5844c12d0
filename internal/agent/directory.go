// Package agent owns who the agents are (the directory, from --agents or the
// built-in default) and what state changes each agent state allows.
package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/ccgw/ccgw"
)

// DefaultSkills are the skills every agent of the built-in directory has.
var DefaultSkills = []ccgw.Skill{
	{ID: 1, Name: "default_voice", MediaType: 5},
	{ID: 2, Name: "default_chat", MediaType: 51},
}

// Directory is a ccgw.Directory. The zero value is not usable; use Default or Load.
type Directory struct {
	open       bool         // every work number in range exists; any non-empty password signs in
	openSkills []ccgw.Skill // the skills of every agent of an open directory

	mu        sync.RWMutex // guards agents and passwords
	agents    map[ccgw.AgentID]ccgw.Agent
	passwords map[ccgw.AgentID]string   // changed passwords, over the configured ones
	history   map[ccgw.AgentID][]string // earlier passwords, newest last
}

var _ ccgw.Directory = (*Directory)(nil)

// Default returns the built-in directory: every work number from ccgw.MinAgentID to
// ccgw.MaxAgentID exists with DefaultSkills, phone "7"+work number, and any
// non-empty password signs in.
func Default() *Directory { return Open(DefaultSkills) }

// Open returns a directory like Default's whose agents all have skills.
func Open(skills []ccgw.Skill) *Directory {
	return &Directory{open: true, openSkills: skills, agents: map[ccgw.AgentID]ccgw.Agent{}, passwords: map[ccgw.AgentID]string{}, history: map[ccgw.AgentID][]string{}}
}

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
	d := &Directory{agents: make(map[ccgw.AgentID]ccgw.Agent, len(f.Agents)), passwords: map[ccgw.AgentID]string{}, history: map[ccgw.AgentID][]string{}}
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
	if ok || !d.open {
		return a, ok
	}
	return ccgw.Agent{ID: id, Name: "agent" + id.String(), Phone: "7" + id.String(), GroupID: 1, Skills: d.openSkills, Inspector: true}, true
}

// CheckPassword implements ccgw.Directory.
func (d *Directory) CheckPassword(id ccgw.AgentID, password string) bool {
	if password == "" {
		return false
	}
	a, ok := d.Agent(id)
	if !ok {
		return false
	}
	d.mu.RLock()
	p, changed := d.passwords[id]
	d.mu.RUnlock()
	switch {
	case changed:
		return password == p
	case a.Password == "":
		return true // open directory: any non-empty password
	default:
		return password == a.Password
	}
}

// SetPassword implements ccgw.Directory. The change lasts while the gateway runs.
func (d *Directory) SetPassword(id ccgw.AgentID, password string) error {
	if _, ok := d.Agent(id); !ok {
		return ccgw.Fail(ccgw.RetQueryNoAgent)
	}
	d.mu.Lock()
	d.passwords[id] = password
	d.mu.Unlock()
	return nil
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
