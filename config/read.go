package config

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/meridian-gslb/meridian/gslb"
)

// envPrefix prefixes every environment override: MERIDIAN_DNS_LISTEN sets
// dns.listen.
const envPrefix = "MERIDIAN"

// override is a setting that the environment or a flag may set over the
// file. Only process settings are overridable: zones, sites and services
// are structured lists that belong in the file.
type override struct {
	key  string // config key, "dns.listen"
	flag string // serve flag name, or "" when only the environment sets it
}

var overrides = []override{
	{"dns.listen", "dns-listen"},
	{"dns.tcp_idle_timeout", ""},
	{"dns.max_tcp_connections", ""},
	{"dns.max_tcp_connections_per_source", ""},
	{"dns.udp_sockets", ""},
	{"dns.nsid", ""},
	{"dns.service_metrics", ""},
	{"http.listen", "http-listen"},
	{"log.level", "log-level"},
	{"log.format", "log-format"},
	{"geo.database", "geo-database"},
	// Per-pod gossip identity: a StatefulSet's pods share one file, and
	// the chart sets these from the downward API (deploy/helm).
	{"gossip.node_name", ""},
	{"gossip.listen", ""},
	{"gossip.advertise", ""},
	{"gossip.advertise_service", ""},
}

// envName is the environment variable that overrides key.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// textSum identifies a text within this process: two 64-bit maphash
// sums with independent seeds, so two texts of one file collide with a
// probability near 2^-128. Not SHA-256: maphash reads a string without
// copying it, and a reload sums 30 MB (issue 10).
type textSum [2]uint64

var sumSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func sumOf(s string) textSum {
	return textSum{maphash.String(sumSeeds[0], s), maphash.String(sumSeeds[1], s)}
}

// source is what one read of the configuration file produced besides
// the Config: the file's text (Same compares it) and its services
// entries, when they were decoded one by one (what a Loader keeps).
type source struct {
	text  string
	split *servicesSplit // nil when the whole file was decoded at once
	// prevOf[i] is the position of service i's entry in the last good
	// load (decoding.prev), -1 when its text is new; nil without a Loader.
	prevOf []int
}

// decoding says how readConfig decodes the services list.
type decoding struct {
	// whole decodes the whole file with viper, never entry by entry:
	// the tests hold the two ways to the same results.
	whole bool
	// kept are the entries of a Loader's last good load, decoded; nil:
	// none are kept.
	kept *keptServices
	// prev is the State of the last good load (nil: none): validation
	// judges only the services that differ from it (ValidateChanged).
	prev *gslb.State
	// prevHealth is prev's health section: when the new one is the same,
	// a services entry whose text did not change is prev's service as
	// converted, defaulted and checked (source.prevOf), not converted again.
	prevHealth HealthConfig
	// geo is the geo database of a Loader's last good load (zero: none):
	// a load of the same, unchanged file shares its DB (openGeo).
	geo geoFile
	// spare leaves one CPU to the running server: a reload decodes on
	// one worker fewer, so DNS queries always find a free P rather than
	// wait out the Go scheduler's 10 ms time slice behind the decoders.
	spare bool
}

// workers is how many goroutines decode the services entries.
func (d decoding) workers() int {
	n := runtime.GOMAXPROCS(0)
	if d.spare {
		n--
	}
	return max(n, 1)
}

// readConfig reads the file, lays the environment and flag overrides over
// it and decodes it strictly (decoderOptions). A YAML file's services
// list is cut out and decoded entry by entry in parallel
// (splitServices, decodeServiceItems), reusing decodes when how says so;
// any doubt decodes the whole file with viper, as before, so the result
// and every error are the same either way.
func readConfig(file string, flags *pflag.FlagSet, how decoding) (Config, source, error) {
	if err := checkRegular(file); err != nil {
		return Config{}, source{}, err
	}
	if t := configType(file); !slices.Contains(viper.SupportedExts, t) {
		// before the read, as viper's ReadInConfig says it
		return Config{}, source{}, readError(file, viper.UnsupportedConfigError(t))
	}
	text, err := readText(file)
	if err != nil {
		return Config{}, source{}, readError(file, err)
	}
	src := source{text: text}
	if isYAML(file) && !how.whole {
		if c, sp, prevOf, ok, err := readSplit(file, src.text, flags, how); ok {
			src.split, src.prevOf = sp, prevOf
			return c, src, err
		}
	}
	v, err := newViper(file, []byte(text))
	if err != nil {
		return Config{}, src, err
	}
	c, err := decodeConfig(v, flags)
	if err != nil {
		return Config{}, src, errors.Join(decodeErrors("", err)...)
	}
	return c, src, nil
}

// isYAML reports a file read as YAML.
func isYAML(file string) bool {
	t := configType(file)
	return t == "yaml" || t == "yml"
}

// readSplit decodes a YAML file whose services list splitServices could
// cut out. ok is false when the whole file must be decoded instead.
func readSplit(file, text string, flags *pflag.FlagSet, how decoding) (c Config, sp *servicesSplit, prevOf []int, ok bool, err error) {
	var rest []byte
	if how.kept != nil {
		// Only the list changed: the rest decodes as it did, without the
		// list's lines (up to 100k blank lines for the parser to skip).
		if sp, ok = resplit(how.kept.split, text); ok {
			rest = compactRest(sp)
		}
	}
	if !ok {
		if rest, sp, ok = splitServices(text); !ok {
			return Config{}, nil, nil, false, nil
		}
	}
	v, err := newViper(file, rest)
	if err != nil || !slices.Contains(v.AllKeys(), "services") || v.Get("services") != nil {
		// A syntax error is reported by the whole file's parse, at its
		// line; a services key that vanished was not what it looked like.
		return Config{}, nil, nil, false, nil
	}
	fresh := 0
	for _, it := range sp.items {
		if it.kept == 0 {
			fresh++
		}
	}
	decoded, ok := decodeServiceItems(text, sp.items, how.kept, fresh >= byTextFrom, how.workers())
	if !ok {
		return Config{}, nil, nil, false, nil
	}
	c, err = decodeConfig(v, flags)
	// mapstructure reports the sections in field order, services last,
	// then the top level's unknown keys: keep that order.
	var errs, unknown []error
	for _, e := range decodeLeaves(err) {
		if isTopLevelUnknownKeys(e) {
			unknown = append(unknown, decodeErrors("", e)...)
		} else {
			errs = append(errs, decodeErrors("", e)...)
		}
	}
	c.Services = decoded.cfgs
	for _, e := range decoded.errs {
		errs = append(errs, e...)
	}
	if how.kept != nil {
		prevOf = decoded.prev
		for i := range prevOf {
			prevOf[i]-- // -1: decoded
		}
	}
	if err := errors.Join(append(errs, unknown...)...); err != nil {
		return Config{}, nil, nil, true, err
	}
	return c, sp, prevOf, true, nil
}

// configType is the format viper reads file in: by its extension, YAML
// without a known one (a Kubernetes ConfigMap key often has none).
func configType(file string) string {
	ext := filepath.Ext(file)
	switch strings.ToLower(ext) {
	case ".json", ".toml", ".yaml", ".yml":
		return ext[1:]
	}
	return "yaml"
}

// readText reads a file into a string without the copy of
// string(os.ReadFile(...)): 30 MB a reload at 100k services.
func readText(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var b strings.Builder
	if fi, err := f.Stat(); err == nil && fi.Size() < 1<<31 {
		b.Grow(int(fi.Size()) + 1)
	}
	// In chunks, pacing between them: the kernel's copy of 30 MB holds
	// the P (and, on one CPU, the CPU) for 10 ms or more.
	buf := make([]byte, 256<<10)
	var pc gslb.Pacer
	for {
		n, err := f.Read(buf)
		b.Write(buf[:n])
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
		pc.Check()
	}
}

// newViper parses data, the file's text (or the text left when the
// services list is cut out), and checks it holds any setting.
func newViper(file string, data []byte) (*viper.Viper, error) {
	v := viper.New()
	v.SetConfigFile(file)
	v.SetConfigType(configType(file))
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, readError(file, unwrapViper(err))
	}
	if len(v.AllKeys()) == 0 {
		// Said before any section's "required": an empty ConfigMap key or a
		// truncated write is the likely cause, not a missing zone.
		return nil, fmt.Errorf("%s: the file is empty (it holds no settings)", file)
	}
	return v, nil
}

// readError names the file in a read or parse error, once.
func readError(file string, err error) error {
	return errors.New(oneFileName(fmt.Sprintf("%s: %v", file, err)))
}

// decodeConfig lays the environment and flag overrides over v and
// decodes it strictly. Its error is mapstructure's (see decodeErrors).
func decodeConfig(v *viper.Viper, flags *pflag.FlagSet) (Config, error) {
	v.SetEnvPrefix(envPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	for _, o := range overrides {
		if err := v.BindEnv(o.key); err != nil {
			return Config{}, err
		}
		if f := changedFlag(flags, o.flag); f != nil {
			if err := v.BindPFlag(o.key, f); err != nil {
				return Config{}, err
			}
		}
	}
	var c Config
	if err := v.UnmarshalExact(&c, decoderOptions); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decoderOptions is the one decode configuration of the file and of each
// service entry decoded on its own: strict (an unknown key is an error,
// because a silently ignored typo is a misconfiguration nobody sees) and
// with the conversions of hooks.go.
func decoderOptions(dc *mapstructure.DecoderConfig) {
	// Weak typing would turn ttl: -30 into 4294967266 and true into 1;
	// numberHook does the string conversions the environment needs, with
	// range checks.
	dc.WeaklyTypedInput = false
	dc.ErrorUnused = true
	dc.DecodeHook = decodeHook
}

// unwrapViper drops viper's "While parsing config:" wrapper text, keeping
// the parser's message (which carries the line number).
func unwrapViper(err error) error {
	var pe viper.ConfigParseError
	if errors.As(err, &pe) {
		if u := errors.Unwrap(pe); u != nil {
			return u
		}
	}
	return err
}

// changedFlag returns the flag called name if the user set it. Unset flags must
// not override: their defaults would hide the file's values.
func changedFlag(fs *pflag.FlagSet, name string) *pflag.Flag {
	if fs == nil || name == "" {
		return nil
	}
	if f := fs.Lookup(name); f != nil && f.Changed {
		return f
	}
	return nil
}
