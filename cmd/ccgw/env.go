package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// usage heads `ccgw -h`, `ccgw --help` and `ccgw help`; the flags follow.
const usage = `usage: ccgw [flags]          run the gateway
       ccgw bench [flags]    load-test a running gateway (ccgw bench -h)
       ccgw version          print the version, commit and Go version
       ccgw help             print this help

Every flag can also be set in the environment: CCGW_ and the flag's name in
capitals, "-" written "_" (CCGW_HEARTBEAT_TIMEOUT=30s sets --heartbeat-timeout;
an empty value sets nothing). The command line wins over the environment, the
environment over --basic-properties, and that over the defaults.

flags:
`

// envPrefix starts the name of every environment variable that sets a flag.
const envPrefix = "CCGW_"

// envName returns the environment variable that sets flag name:
// "heartbeat-timeout" → CCGW_HEARTBEAT_TIMEOUT.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// notFromEnv are the flags the environment does not set: asking for the
// version is a command, not configuration.
var notFromEnv = map[string]bool{"version": true}

// applyEnv sets each flag of fs that explicit (the flags on the command line)
// does not hold from its environment variable (envName), as looked up by
// lookup, and adds it to explicit, so that --basic-properties leaves it alone.
// An empty value sets nothing. It returns the variables it applied, in flag
// order; an error names the variable. (No flag holds a secret: the secrets
// are named by --admin-token-env and --push-secret-env, so a value may be shown.)
func applyEnv(fs *flag.FlagSet, explicit map[string]bool, lookup func(string) (string, bool)) ([]string, error) {
	var applied []string
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || explicit[f.Name] || notFromEnv[f.Name] {
			return
		}
		name := envName(f.Name)
		v, ok := lookup(name)
		if !ok || v == "" {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("$%s=%q: invalid value for --%s: %w", name, v, f.Name, serr)
			return
		}
		explicit[f.Name] = true
		applied = append(applied, name)
	})
	return applied, err
}

// lookupEnv is m.Env, or os.LookupEnv when that is nil.
func (m *Main) lookupEnv(key string) (string, bool) {
	if m.Env != nil {
		return m.Env(key)
	}
	return os.LookupEnv(key)
}
