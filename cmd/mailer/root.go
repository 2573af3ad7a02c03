package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise versionString reads the build info.
var version = ""

// runFuncs stand in for the commands' run functions, as cli/cli's runF
// does (pkg/cmd/issue/close): a test gets the options a command line
// parses into without running the command. A nil field runs the command.
type runFuncs struct {
	send    func(*SendOptions) error
	check   func(*CheckOptions) error
	preview func(*PreviewOptions) error
	report  func(*ReportOptions) error
	sink    func(*SinkOptions) error
	bounces func(*BouncesOptions) error
	serve   func(*ServeOptions) error
}

func newRootCmd(stdout io.Writer, u *ui, rf runFuncs) *cobra.Command {
	var logFormat string
	root := &cobra.Command{
		Use:   "mailer",
		Short: "Send personalised bulk email from a CSV list and a template",
		Long: `mailer sends one personalised message per row of a CSV list through a
rate-limited pool of SMTP relay connections, and records what happened to every
recipient in a results CSV. Re-running the same command resumes.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(u.w)
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "messages on stderr as text or json (one object per line)")
	setLogFormat := func(c *cobra.Command) error {
		if f := c.Flags().Lookup("log-format"); f != nil && !f.Changed {
			if v := os.Getenv("MAILER_LOG_FORMAT"); v != "" {
				logFormat = v
			}
		}
		return u.setFormat(logFormat)
	}
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error { return setLogFormat(c) }
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// The flags before the bad one are parsed: --log-format json
		// covers this error too.
		_ = setLogFormat(c)
		return &usageError{msg: err.Error() + " (see " + c.CommandPath() + " --help)"}
	})
	root.AddCommand(newSendCmd(stdout, u, rf.send), newSinkCmd(stdout, u, rf.sink), newVersionCmd(stdout))
	root.AddCommand(newCheckCmd(stdout, u, rf.check), newPreviewCmd(stdout, u, rf.preview), newReportCmd(stdout, rf.report))
	root.AddCommand(newBouncesCmd(stdout, u, rf.bounces))
	root.AddCommand(newServeCmd(stdout, u, rf.serve))
	return root
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print mailer's version",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			bi, ok := debug.ReadBuildInfo()
			if !ok {
				bi = nil
			}
			fmt.Fprintf(stdout, "mailer %s\n", versionString(version, bi))
			return nil
		},
	}
}

// versionString says which mailer this is: the version set with -ldflags,
// else the module version (a tag, or the pseudo-version go build derives
// from the commit since Go 1.24), else the commit from the VCS stamp, with
// "+dirty" when the work tree had changes; never the bare "(devel)".
func versionString(ldflags string, bi *debug.BuildInfo) string {
	if ldflags != "" {
		return ldflags
	}
	if bi == nil {
		return "unknown (no build information)"
	}
	goVersion := ""
	if bi.GoVersion != "" {
		goVersion = " (" + bi.GoVersion + ")"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v + goVersion
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "unknown" + goVersion + ": built without VCS information (-buildvcs=false, or not in a git clone)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "+dirty"
	}
	return rev + goVersion
}
