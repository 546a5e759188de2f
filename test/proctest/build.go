package proctest

import (
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// BuildMeridian builds the meridian command, the package in dir (its
// cmd/meridian folder), to the file out, with go build's flags (-ldflags,
// say), and with -race when the tests run with it (Race).
func BuildMeridian(dir, out string, flags ...string) error {
	args := append([]string{"build", "-o", out}, flags...)
	if Race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = dir
	if b, err := Run(5*time.Minute, cmd); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}
