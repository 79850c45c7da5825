package app

import (
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar"
)

// readFlagFile reads the file a flag names; every error names the flag
// and the file, and a directory says so rather than "is a directory".
func readFlagFile(flagName, path string) ([]byte, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("--%s %s: no such file", flagName, path)
	case err != nil:
		return nil, fmt.Errorf("--%s %s: %v", flagName, path, unwrapPath(err))
	case fi.IsDir():
		return nil, fmt.Errorf("--%s %s: is a directory; give the file itself", flagName, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %v", flagName, path, unwrapPath(err))
	}
	return data, nil
}

// unwrapPath drops the *PathError's "op path:" prefix, which would repeat
// the path the message already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readPEMFile reads a PEM file for a TLS flag and checks that it holds a
// block whose type ends in blockType (CERTIFICATE; PRIVATE KEY also
// matches RSA and EC keys), which crypto/tls would otherwise report
// without naming the file.
func readPEMFile(flagName, path, blockType string) ([]byte, error) {
	data, err := readFlagFile(flagName, path)
	if err != nil {
		return nil, err
	}
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if strings.HasSuffix(b.Type, blockType) {
			return data, nil
		}
	}
	return nil, fmt.Errorf("--%s %s: not a PEM file with a %s (want a \"-----BEGIN %s-----\" block)", flagName, path, strings.ToLower(blockType), blockType)
}

// validateOVSRemote checks --ovs-db; its hint lists only the forms the
// local database accepts, and a bare socket path gets the unix: form.
func validateOVSRemote(r string) error {
	scheme, _, ok := strings.Cut(r, ":")
	switch {
	case strings.HasPrefix(r, "/"):
		return fmt.Errorf("--ovs-db %q: want unix:PATH or tcp:HOST:PORT; for this socket: --ovs-db=unix:%s", r, r)
	case scheme == "ssl":
		return fmt.Errorf("--ovs-db %q: ssl: is not supported for the local database; use unix:PATH or tcp:HOST:PORT", r)
	case !ok || (scheme != "unix" && scheme != "tcp"):
		return fmt.Errorf("--ovs-db %q: want unix:PATH or tcp:HOST:PORT", r)
	}
	if err := sidecar.ValidateRemote(r); err != nil {
		return fmt.Errorf("--ovs-db: %v", err)
	}
	return nil
}

// unknownFlag returns the flag name from the flag package's "flag
// provided but not defined: -NAME" error, if err is that.
func unknownFlag(err error) (string, bool) {
	return strings.CutPrefix(err.Error(), "flag provided but not defined: -")
}

// flagParseError is the one line for a flag set's parse error: an unknown
// flag gets the closest defined ones as "did you mean".
func flagParseError(fs *flag.FlagSet, err error) string {
	name, ok := unknownFlag(err)
	if !ok {
		return err.Error()
	}
	msg := "unknown flag --" + name
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if s := suggest(name, names); len(s) > 0 {
		msg += "; did you mean --" + strings.Join(s, " or --") + "?"
	}
	return msg
}

// suggest returns the candidates closest to name, if they are close
// enough to be a typo: one edit for short names, two for longer ones, or
// name as a prefix (--http for --http-addr); never a rewrite of all of it.
func suggest(name string, candidates []string) []string {
	limit := 1
	if len(name) > 4 {
		limit = 2
	}
	best, out := limit+1, []string(nil)
	for _, c := range candidates {
		d := editDistance(name, c)
		if d > limit && len(name) >= 3 && strings.HasPrefix(c, name) {
			d = limit
		}
		if d >= len(name) { // replacing every character is no typo
			continue
		}
		switch {
		case d < best:
			best, out = d, []string{c}
		case d == best:
			out = append(out, c)
		}
	}
	slices.Sort(out)
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent characters
// (the usual typo, sb-bd for sb-db) each count one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
