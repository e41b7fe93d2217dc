// Command runcwrap is an OCI runtime that edits the spec it is handed and then
// execs the real runc.
//
// Some hosts (Firecracker VMs among them) run every process with a capability
// bounding set that lacks CAP_SYS_RESOURCE. runc then refuses any container
// that asks for it ("unable to apply caps: operation not permitted"), and both
// a privileged kind node and Cilium's agent ask for it. Docker 20.10 ignores
// --cap-drop together with --privileged, and containerd's CRI has no knob
// either, so the wrapper removes the capability from the spec on the way to
// runc: config.json in the bundle for create/run, the --process file for exec.
//
// By default it removes exactly the capabilities that its own bounding set
// lacks (read from /proc/self/status), so on a host that has them all it
// changes nothing; RUNCWRAP_DROP (comma separated) names them explicitly
// instead. The real runc is RUNCWRAP_RUNC if set, else the first "runc" on
// PATH that is not this program.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if err := run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "runcwrap: %v\n", err)
		os.Exit(1)
	}
}

func run(argv []string) error {
	drop, err := dropList(os.Getenv("RUNCWRAP_DROP"), "/proc/self/status")
	if err != nil {
		return err
	}
	if target, ok := specTarget(argv[1:]); ok && len(drop) > 0 {
		if err := editFile(target, drop); err != nil {
			return err
		}
	}
	runc, err := realRunc()
	if err != nil {
		return err
	}
	argv[0] = runc
	return syscall.Exec(runc, argv, os.Environ())
}

// capNames are the Linux capabilities by bit number.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// dropList gives the capabilities to remove: those named in env, or else
// the known ones missing from the bounding set in the status file.
func dropList(env, statusFile string) ([]string, error) {
	if strings.TrimSpace(env) != "" {
		var out []string
		for _, c := range strings.Split(env, ",") {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
		return out, nil
	}
	raw, err := os.ReadFile(statusFile)
	if err != nil {
		return nil, fmt.Errorf("read capability bounding set: %w", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		hex, ok := strings.CutPrefix(line, "CapBnd:")
		if !ok {
			continue
		}
		bnd, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("parse CapBnd %q: %w", strings.TrimSpace(hex), err)
		}
		return missingCaps(bnd), nil
	}
	return nil, fmt.Errorf("no CapBnd line in %s", statusFile)
}

func missingCaps(bnd uint64) []string {
	var out []string
	for bit, name := range capNames {
		if bnd&(1<<uint(bit)) == 0 {
			out = append(out, name)
		}
	}
	return out
}

// globalWithValue lists runc's global flags that take a separate value, so
// that the value is not mistaken for the sub-command.
var globalWithValue = map[string]bool{
	"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true,
}

// specTarget finds the file to edit for this invocation: for create and run,
// config.json in the bundle (--bundle/-b, default the working directory); for
// exec, the --process/-p file. Other sub-commands need no edit.
func specTarget(args []string) (string, bool) {
	i := 0
	for i < len(args) {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			break
		}
		if globalWithValue[a] {
			i++
		}
		i++
	}
	if i >= len(args) {
		return "", false
	}
	cmd, rest := args[i], args[i+1:]
	switch cmd {
	case "create", "run":
		bundle := flagValue(rest, "--bundle", "-b")
		if bundle == "" {
			bundle = "."
		}
		return filepath.Join(bundle, "config.json"), true
	case "exec":
		p := flagValue(rest, "--process", "-p")
		return p, p != ""
	}
	return "", false
}

// subWithValue lists the flags of create, run and exec that take a separate
// value. Flag parsing stops at the first positional argument (the container
// id), so flags of the command run inside the container are never read.
var subWithValue = map[string]bool{
	"--bundle": true, "-b": true, "--process": true, "-p": true,
	"--console-socket": true, "--pidfd-socket": true, "--pid-file": true, "--preserve-fds": true,
	"--cwd": true, "--env": true, "-e": true, "--user": true, "-u": true,
	"--additional-gids": true, "-g": true, "--process-label": true, "--apparmor": true,
	"--cap": true, "-c": true, "--cgroup": true,
}

func flagValue(args []string, long, short string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		for _, name := range []string{long, short} {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v
			}
		}
		if subWithValue[a] {
			i++
		}
	}
	return ""
}

func editFile(path string, drop []string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("read spec %s: %w", path, err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read spec %s: %w", path, err)
	}
	out, changed, err := dropCaps(raw, drop)
	if err != nil {
		return fmt.Errorf("edit spec %s: %w", path, err)
	}
	if !changed {
		return nil
	}
	if err := os.WriteFile(path, out, st.Mode().Perm()); err != nil {
		return fmt.Errorf("write spec %s: %w", path, err)
	}
	return nil
}

// dropCaps removes the named capabilities from every capability set of a
// runtime spec (config.json, where they sit under "process") or of a process
// spec (the exec --process file, where they sit at the top). It reports
// whether anything was removed; an unchanged document is returned as is.
func dropCaps(raw []byte, drop []string) ([]byte, bool, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, false, err
	}
	if doc == nil {
		return nil, false, errors.New("spec is null")
	}
	holder := doc
	if p, ok := doc["process"].(map[string]any); ok {
		holder = p
	}
	caps, ok := holder["capabilities"].(map[string]any)
	if !ok {
		return raw, false, nil
	}
	unwanted := map[string]bool{}
	for _, c := range drop {
		unwanted[c] = true
	}
	changed := false
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if s, ok := c.(string); ok && unwanted[s] {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	if !changed {
		return raw, false, nil
	}
	out, err := json.Marshal(doc)
	return out, true, err
}

func realRunc() (string, error) {
	if p := os.Getenv("RUNCWRAP_RUNC"); p != "" {
		return p, nil
	}
	self, _ := os.Executable()
	self, _ = filepath.EvalSymlinks(self)
	for _, dir := range filepath.SplitList(os.Getenv("PATH") + ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin") {
		cand := filepath.Join(dir, "runc")
		resolved, err := filepath.EvalSymlinks(cand)
		if err != nil || resolved == self {
			continue
		}
		if _, err := exec.LookPath(cand); err == nil {
			return cand, nil
		}
	}
	return "", errors.New("no runc found on PATH (set RUNCWRAP_RUNC)")
}
