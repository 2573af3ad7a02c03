package track

import "strings"

// Agent is the class of a user agent: what the events file keeps instead
// of the user agent itself.
type Agent string

// The agent classes. MailProxy fetches images on the reader's behalf (or
// ahead of them: Gmail caches, Apple Mail Privacy Protection prefetches
// with a browser-like agent that cannot be told apart, so it counts as
// Browser); Scanner is a security product that follows every link; Bot
// is a script or crawler (curl included).
const (
	Browser   Agent = "browser"
	MailProxy Agent = "mail-proxy"
	Scanner   Agent = "scanner-like"
	Bot       Agent = "bot"
	Other     Agent = "other"
)

// agentTable is matched in order against the lower-cased user agent.
var agentTable = []struct {
	substr string
	class  Agent
}{
	{"googleimageproxy", MailProxy},
	{"ggpht.com", MailProxy},
	{"yahoomailproxy", MailProxy},
	{"barracuda", Scanner},
	{"mimecast", Scanner},
	{"proofpoint", Scanner},
	{"messagelabs", Scanner},
	{"symantec", Scanner},
	{"trendmicro", Scanner},
	{"forcepoint", Scanner},
	{"headlesschrome", Scanner},
	{"phantomjs", Scanner},
	{"bot", Bot},
	{"crawler", Bot},
	{"spider", Bot},
	{"curl/", Bot},
	{"wget/", Bot},
	{"python", Bot},
	{"go-http-client", Bot},
	{"java/", Bot},
	{"libwww", Bot},
	{"okhttp", Bot},
	{"mozilla/", Browser},
}

// ClassifyAgent puts a User-Agent value in a class; an empty one is a Bot.
func ClassifyAgent(ua string) Agent {
	if strings.TrimSpace(ua) == "" {
		return Bot
	}
	l := strings.ToLower(ua)
	for _, e := range agentTable {
		if strings.Contains(l, e.substr) {
			return e.class
		}
	}
	return Other
}
