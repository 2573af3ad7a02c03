package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/mailer-dev/mailer/templates"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// settings records where each option's value came from, and how each
// relay's password is found. Precedence: flag > MAILER_* environment >
// config file > default.
type settings struct {
	source    map[string]string         // flag name -> "flag", "env MAILER_X", "config FILE:LINE", "default"
	passwords map[string]passwordSource // relay URL -> where its password is
}

type passwordSource struct {
	env  string // environment variable
	file string // file only its owner can read
}

// envName is the environment variable for a flag: --dry-run -> MAILER_DRY_RUN.
func envName(flag string) string {
	return "MAILER_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// resolveSettings fills c's flags from the environment and the config
// file (settingsFrom), then applies --log-format again: either may set it.
func resolveSettings(c *cobra.Command, u *ui, configPath string) (*settings, error) {
	st, err := settingsFrom(c.Flags(), configPath)
	if err != nil {
		return nil, err
	}
	format, _ := c.Flags().GetString("log-format")
	return st, u.setFormat(format)
}

// settingsFrom fills every flag not given on the command line from the
// environment, then from the config file (--config or MAILER_CONFIG).
func settingsFrom(fs *pflag.FlagSet, configPath string) (*settings, error) {
	st := &settings{source: map[string]string{}, passwords: map[string]passwordSource{}}
	if configPath == "" {
		configPath = os.Getenv("MAILER_CONFIG")
	}
	cfg := map[string]configValue{}
	if configPath != "" {
		var err error
		if cfg, err = loadConfig(configPath, fs, st); err != nil {
			return nil, err
		}
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "config" || f.Name == "help" {
			return
		}
		if f.Changed {
			st.source[f.Name] = "flag"
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok && v != "" {
			st.source[f.Name] = "env " + envName(f.Name)
			for _, item := range splitList(f, v) {
				if err := fs.Set(f.Name, item); err != nil {
					errs = append(errs, &configError{fmt.Errorf("%s=%q: %v", envName(f.Name), v, err)})
				}
			}
			return
		}
		if cv, ok := cfg[f.Name]; ok {
			st.source[f.Name] = fmt.Sprintf("config %s:%d", configPath, cv.line)
			for _, item := range cv.values {
				if err := fs.Set(f.Name, item); err != nil {
					errs = append(errs, &configError{fmt.Errorf("%s:%d: %s: %v", configPath, cv.line, f.Name, err)})
				}
			}
			return
		}
		st.source[f.Name] = "default"
	})
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return st, nil
}

// splitList splits an environment value for a repeatable flag on commas
// and white space; other flags take it whole.
func splitList(f *pflag.Flag, v string) []string {
	if !strings.HasSuffix(f.Value.Type(), "Array") {
		return []string{v}
	}
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}

type configValue struct {
	values []string
	line   int
}

// loadConfig reads a YAML config whose keys are flag names (with - or _),
// plus "relays": a list of relay URLs or of mappings with url, max_conns,
// msgs_per_conn, rate, weight, ca, password_env and password_file. Paths are
// resolved against the file's directory (pathSettings).
func loadConfig(path string, fs *pflag.FlagSet, st *settings) (map[string]configValue, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &configError{fmt.Errorf("config: %w", err)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, &configError{fmt.Errorf("config %s: %v", path, err)}
	}
	out := map[string]configValue{}
	if len(doc.Content) == 0 {
		return out, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &configError{fmt.Errorf("%s:%d: the config must be a mapping of settings", path, root.Line)}
	}
	bad := func(n *yaml.Node, format string, args ...any) error {
		return &configError{fmt.Errorf("%s:%d: %s", path, n.Line, fmt.Sprintf(format, args...))}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := strings.ReplaceAll(strings.ToLower(k.Value), "_", "-")
		if key == "relays" {
			key = "relay"
		}
		f := fs.Lookup(key)
		if f == nil && sendSettings()[key] {
			continue // one config serves every command: send's settings are not check's
		}
		if f == nil || key == "config" || key == "help" {
			return nil, bad(k, "unknown setting %q (known: %s)", k.Value, strings.Join(flagNames(fs), ", "))
		}
		cv := configValue{line: k.Line}
		switch v.Kind {
		case yaml.ScalarNode:
			cv.values = []string{v.Value}
		case yaml.SequenceNode:
			if !strings.HasSuffix(f.Value.Type(), "Array") {
				return nil, bad(v, "%s takes one value, not a list", k.Value)
			}
			for _, item := range v.Content {
				switch {
				case item.Kind == yaml.ScalarNode && key == "relay":
					cv.values = append(cv.values, relayURLRelative(filepath.Dir(path), item.Value))
				case item.Kind == yaml.ScalarNode:
					cv.values = append(cv.values, item.Value)
				case item.Kind == yaml.MappingNode && key == "relay":
					u, err := relayFromMapping(item, filepath.Dir(path), bad, st)
					if err != nil {
						return nil, err
					}
					cv.values = append(cv.values, u)
				default:
					return nil, bad(item, "%s: each item must be a single value", k.Value)
				}
			}
		default:
			return nil, bad(v, "%s: want a value or a list", k.Value)
		}
		if pathSettings[key] {
			for i, v := range cv.values {
				cv.values[i] = configRelative(filepath.Dir(path), v, key == "template")
			}
		}
		out[key] = cv
	}
	return out, nil
}

// relayURLRelative resolves a relay URL's ca= file, in a config file in dir.
func relayURLRelative(dir, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || dir == "." {
		return raw // ParseRelay reports a bad URL
	}
	q := u.Query()
	ca := q.Get("ca")
	if ca == "" || filepath.IsAbs(ca) {
		return raw
	}
	q.Set("ca", configRelative(dir, ca, false))
	u.RawQuery = q.Encode()
	return u.String()
}

// pathSettings are the settings that name files or directories. In a config
// file they are relative to the file's directory, so a crontab line works
// from any directory; on the command line and in MAILER_* they stay
// relative to the working directory, as a shell user expects.
var pathSettings = map[string]bool{
	"list": true, "template": true, "results": true, "suppress": true, "bounces-to": true,
	"dkim-key": true, "out": true, "imap-password-file": true, "tls-cert": true, "tls-key": true,
}

// configRelative resolves p, a path in a config file in dir. A template
// may be a built-in's name, which is kept when dir has no file of that name.
func configRelative(dir, p string, template bool) string {
	if p == "" || filepath.IsAbs(p) || dir == "." {
		return p
	}
	if template && !strings.ContainsAny(p, `/\.`) {
		if _, ok := templates.Lookup(p); ok {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				return p
			}
		}
	}
	if strings.Contains(p, "{{") {
		return dir + string(filepath.Separator) + p // a date pattern: leave it as written
	}
	return filepath.Join(dir, p)
}

// relayFromMapping turns a relay's mapping into its URL (limits as query
// parameters, which ParseRelay reads) and notes its password source.
func relayFromMapping(n *yaml.Node, dir string, bad func(*yaml.Node, string, ...any) error, st *settings) (string, error) {
	var raw string
	q := url.Values{}
	var pw passwordSource
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return "", bad(v, "relay %s: want a single value", k.Value)
		}
		switch key := strings.ReplaceAll(strings.ToLower(k.Value), "-", "_"); key {
		case "url":
			raw = relayURLRelative(dir, v.Value)
		case "ca":
			q.Set(key, configRelative(dir, v.Value, false))
		case "max_conns", "msgs_per_conn", "rate", "weight":
			q.Set(key, v.Value)
		case "password_env":
			pw.env = v.Value
		case "password_file":
			pw.file = configRelative(dir, v.Value, false)
		case "password":
			return "", bad(k, "relay password in the config file refused: use password_file (mode 600) or password_env")
		default:
			return "", bad(k, "unknown relay setting %q (known: url, max_conns, msgs_per_conn, rate, weight, ca, password_env, password_file)", k.Value)
		}
	}
	if raw == "" {
		return "", bad(n, "relay without url")
	}
	if len(q) > 0 {
		sep := "?"
		if strings.Contains(raw, "?") {
			sep = "&"
		}
		raw += sep + q.Encode()
	}
	if pw != (passwordSource{}) {
		st.passwords[raw] = pw
	}
	return raw, nil
}

// sendSettings are the names a config file may hold: send's flags, the
// fullest set, and serve's. Other commands skip those they do not have.
func sendSettings() map[string]bool {
	names := map[string]bool{}
	for _, c := range []*cobra.Command{newSendCmd(io.Discard, newUI(io.Discard), nil), newServeCmd(io.Discard, newUI(io.Discard), nil)} {
		for _, n := range flagNames(c.Flags()) {
			names[n] = true
		}
	}
	return names
}

func flagNames(fs *pflag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "config" && f.Name != "help" {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	return names
}

// password finds the password of a relay given as rawURL: its own file or
// variable from the config, else MAILER_SMTP_PASSWORD.
func (st *settings) password(rawURL string) (string, error) {
	src := st.passwords[rawURL]
	if src.file != "" {
		return readSecret(src.file)
	}
	name := src.env
	if name == "" {
		name = "MAILER_SMTP_PASSWORD"
	}
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is empty", name)
	}
	return v, nil
}

// readSecret reads a password file that only its owner may read, like ssh
// does for keys: a secret others can read is not one.
func readSecret(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("password file %s can be read by others (mode %04o): chmod 600 %s", path, perm, path)
	}
	if sys, ok := info.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return "", fmt.Errorf("password file %s belongs to another user (uid %d)", path, sys.Uid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", errors.New("password file " + path + " is empty")
	}
	return pw, nil
}
