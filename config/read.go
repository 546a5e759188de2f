package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
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
	{"dns.udp_sockets", ""},
	{"dns.nsid", ""},
	{"http.listen", "http-listen"},
	{"log.level", "log-level"},
	{"log.format", "log-format"},
	{"geo.database", "geo-database"},
}

// envName is the environment variable that overrides key.
func envName(key string) string {
	return envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// readConfig reads the file with viper, lays the environment and flag
// overrides over it and decodes it strictly: an unknown key is an error,
// because a silently ignored typo is a misconfiguration nobody sees.
func readConfig(file string, flags *pflag.FlagSet) (Config, error) {
	v := viper.New()
	v.SetConfigFile(file)
	switch strings.ToLower(filepath.Ext(file)) {
	case ".json", ".toml", ".yaml", ".yml":
	default:
		// A Kubernetes ConfigMap key often has no extension: read YAML.
		v.SetConfigType("yaml")
	}
	if err := checkRegular(file); err != nil {
		return Config{}, err
	}
	if err := v.ReadInConfig(); err != nil {
		return Config{}, errors.New(oneFileName(fmt.Sprintf("%s: %v", file, unwrapViper(err))))
	}
	if len(v.AllKeys()) == 0 {
		// Said before any section's "required": an empty ConfigMap key or a
		// truncated write is the likely cause, not a missing zone.
		return Config{}, fmt.Errorf("%s: the file is empty (it holds no settings)", file)
	}
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
	err := v.UnmarshalExact(&c, func(dc *mapstructure.DecoderConfig) {
		// Weak typing would turn ttl: -30 into 4294967266 and true into
		// 1; numberHook does the string conversions the environment needs,
		// with range checks.
		dc.WeaklyTypedInput = false
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(durationHook, stringListHook, numberHook, statusCodesHook, textHook)
	})
	if err != nil {
		return Config{}, errors.Join(decodeErrors(err)...)
	}
	return c, nil
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
