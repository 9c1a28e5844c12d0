// Package console holds the web console's files, embedded in the binary: a
// page of plain HTML, CSS and JavaScript (no build step, nothing loaded from
// another origin) that shows the admin API's live view (agents, queues, calls,
// faults, the client report, the event stream) and acts through the admin API.
// It renders every value as text, never as markup. Who may fetch the files,
// and the headers they are served with, are internal/api's (console.go).
package console

import (
	"embed"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// File is one of the console's files.
type File struct {
	Name string
	Type string // its Content-Type
	Body []byte
	// Public marks the sign-in page's own files, which are served without the
	// admin token: they hold no data.
	Public bool
}

// The pages, served at "/" only; every other file is an asset, served at
// /console/<name>.
const (
	pageName  = "index.html"
	loginName = "login.html"
)

// public are the files the sign-in page needs.
var public = map[string]bool{loginName: true, "login.js": true, "style.css": true}

// files holds every file, read once.
var files = load()

func load() map[string]File {
	entries, err := static.ReadDir("static")
	if err != nil {
		panic("console: " + err.Error()) // the embedded directory: cannot happen
	}
	out := make(map[string]File, len(entries))
	for _, e := range entries {
		b, err := static.ReadFile("static/" + e.Name())
		if err != nil {
			panic("console: " + err.Error())
		}
		out[e.Name()] = File{Name: e.Name(), Type: typeOf(e.Name()), Body: b, Public: public[e.Name()]}
	}
	return out
}

// typeOf returns the Content-Type of a file by its extension.
func typeOf(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	}
	return "application/octet-stream"
}

// Page returns the console's page.
func Page() File { return files[pageName] }

// Login returns the sign-in page, served at "/" instead of the console's
// while the admin token is required and not presented.
func Login() File { return files[loginName] }

// Asset returns the file /console/<name> serves (app.js, login.js,
// style.css), and false for any other name: the pages are served at "/" only.
func Asset(name string) (File, bool) {
	if strings.HasSuffix(name, ".html") {
		return File{}, false
	}
	f, ok := files[name]
	return f, ok
}

// Names returns the names of every file, pages included.
func Names() []string {
	out := make([]string, 0, len(files))
	for n := range files {
		out = append(out, n)
	}
	return out
}
