package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix is put before every environment variable: server.addr is read
// from OCRPOOL_SERVER_ADDR.
const EnvPrefix = "OCRPOOL"

// DefaultFile is read when no --config is given and it exists.
const DefaultFile = "ocrpool.yaml"

// Source says where Load looks besides the defaults.
type Source struct {
	// File is the --config value; empty means ./ocrpool.yaml if present.
	File string
	// Flags maps config keys to command-line flags; a flag counts only when
	// it was set on the command line.
	Flags map[string]*pflag.Flag
	// Env looks up environment variables; nil means os.LookupEnv. Tests
	// pass their own so they need not touch the process environment.
	Env func(string) (string, bool)
}

// Load builds a Config from, in order of precedence, flags, OCRPOOL_*
// environment variables, the config file and Default. It does not validate.
func Load(src Source) (Config, error) {
	v := viper.New()
	for key, val := range flatten(Default()) {
		v.SetDefault(key, val)
	}

	file := src.File
	if file == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			file = DefaultFile
		}
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("reading config file %s: %w", file, err)
		}
	}

	// Every key is looked up explicitly (not with AutomaticEnv), so env
	// works for keys that appear in no file; see Flipt's bindEnvVars.
	lookup := src.Env
	if lookup == nil {
		lookup = os.LookupEnv
	}
	for _, key := range Keys() {
		if val, ok := lookup(EnvName(key)); ok {
			v.Set(key, val)
		}
	}
	for key, f := range src.Flags {
		if f != nil && f.Changed {
			v.Set(key, f.Value.String())
		}
	}

	var cfg Config
	err := v.UnmarshalExact(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		stringToIntsHook,
	)))
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", cleanDecodeError(err))
	}
	return cfg, nil
}

// EnvName is the environment variable that sets key.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every configuration key, dotted, sorted.
func Keys() []string {
	m := flatten(Default())
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// flatten maps every leaf of c to its dotted mapstructure key.
func flatten(c Config) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name := t.Field(i).Tag.Get("mapstructure")
			if name == "" {
				continue
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Struct {
				walk(key, fv)
				continue
			}
			out[key] = fv.Interface()
		}
	}
	walk("", reflect.ValueOf(c))
	return out
}

// cleanDecodeError reduces mapstructure's multi-line report to one line
// that names the offending keys, so the CLI can print one clear line.
func cleanDecodeError(err error) error {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "decoding failed due to") {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return err
	}
	return errors.New(strings.Join(lines, "; "))
}

// stringToIntsHook reads "5,20,50,100" (an environment variable or a flag)
// into []int; mapstructure's own slice hook only makes []string.
func stringToIntsHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to != reflect.TypeOf([]int(nil)) {
		return data, nil
	}
	raw := strings.Trim(strings.TrimSpace(data.(string)), "[]")
	if raw == "" {
		return []int{}, nil
	}
	var out []int
	for _, part := range strings.Split(raw, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("want comma-separated integers, got %q", data)
		}
		out = append(out, n)
	}
	return out, nil
}
