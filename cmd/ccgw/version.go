package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/ccgw/ccgw/internal/metrics"
)

// version and commit are stamped by the linker:
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/ccgw
//
// (the Dockerfile does). Left empty, the build information the go command
// embeds is used instead (buildVersion).
var version, commit string

// buildVersion returns what ccgw_build_info and `ccgw version` say of this
// binary: version and commit from the linker flags if set, else from bi (the
// module version, "v1.2.0" when installed with `go install …@v1.2.0` and
// "(devel)" when built from a checkout; vcs.revision, with "-modified"
// appended when vcs.modified is true). bi may be nil (no build information).
func buildVersion(bi *debug.BuildInfo, version, commit string) metrics.BuildInfo {
	b := metrics.BuildInfo{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if bi == nil {
		if b.Version == "" {
			b.Version = "(devel)"
		}
		return b
	}
	if bi.GoVersion != "" {
		b.GoVersion = bi.GoVersion
	}
	if b.Version == "" {
		b.Version = bi.Main.Version
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.Commit == "" {
		var rev string
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += "-modified"
		}
		b.Commit = rev
	}
	return b
}

// thisBuild returns buildVersion of the running binary.
func thisBuild() metrics.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return buildVersion(bi, version, commit)
}

// writeVersion prints b as `ccgw version` does:
//
//	ccgw v1.2.0 (commit 0123abc…, go1.26.8 linux/amd64)
func writeVersion(w io.Writer, b metrics.BuildInfo) {
	c := b.Commit
	if c == "" {
		c = "unknown"
	}
	fmt.Fprintf(w, "ccgw %s (commit %s, %s %s/%s)\n", b.Version, c, b.GoVersion, runtime.GOOS, runtime.GOARCH)
}
