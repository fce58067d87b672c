#!/usr/bin/env bash
# bootstrap.sh — installs what building and testing ocrpool needs from the
# system: Tesseract and Leptonica (headers for cgo, English data), a C
# compiler, pkg-config, make, git, CA certificates; then checks Go.
#
# Idempotent: it installs only what is missing, so a second run installs
# nothing and takes well under a second. Debian/Ubuntu (apt) and macOS (brew).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf 'bootstrap: %s\n' "$*"; }
die() {
	printf 'bootstrap: error: %s\n' "$*" >&2
	exit 1
}

# version_ge A B: true when version A >= version B (dotted numbers).
version_ge() {
	[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]
}

# ---------------------------------------------------------------- packages

DEB_PACKAGES=(
	tesseract-ocr
	tesseract-ocr-eng
	libtesseract-dev
	libleptonica-dev
	gcc
	libc6-dev
	pkg-config
	make
	git
	ca-certificates
)
BREW_PACKAGES=(tesseract leptonica pkg-config)

SUDO=()
need_root() {
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=()
	elif command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		die "installing system packages needs root: run this script as root or install sudo"
	fi
}

deb_installed() {
	# dpkg -s succeeds for removed packages that left config files behind;
	# only "install ok installed" counts.
	dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

apt_updated=0
apt_update() {
	if [ "$apt_updated" -eq 0 ]; then
		step "apt-get update"
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
		apt_updated=1
	fi
}

apt_install() {
	need_root
	apt_update
	step "apt-get install $*"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "$@"
}

install_debian() {
	local missing=() p
	for p in "${DEB_PACKAGES[@]}"; do
		deb_installed "$p" || missing+=("$p")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		step "system packages: all ${#DEB_PACKAGES[@]} present (${DEB_PACKAGES[*]})"
		return
	fi
	step "system packages missing: ${missing[*]}"
	apt_install "${missing[@]}"
}

install_macos() {
	command -v brew >/dev/null 2>&1 ||
		die "Homebrew is needed on macOS: see https://brew.sh, then run this script again"
	command -v cc >/dev/null 2>&1 ||
		die "no C compiler (cgo needs one): run 'xcode-select --install', then this script again"
	local missing=() p
	for p in "${BREW_PACKAGES[@]}"; do
		brew list --versions "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		step "brew packages: all present (${BREW_PACKAGES[*]})"
		return
	fi
	step "brew install ${missing[*]}"
	brew install "${missing[@]}"
}

case "$(uname -s)" in
Linux)
	if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
		die "only Debian/Ubuntu (apt) and macOS (brew) are automated; install by hand: Tesseract 4+ with English data and its headers, Leptonica headers, gcc, pkg-config, make, git, CA certificates"
	fi
	install_debian
	;;
Darwin)
	install_macos
	;;
*)
	die "unsupported system $(uname -s): install Tesseract, Leptonica, a C compiler and pkg-config by hand"
	;;
esac

# The cgo flags of gosseract come from pkg-config: check it finds both.
if pkg-config --exists tesseract lept 2>/dev/null; then
	step "pkg-config: tesseract $(pkg-config --modversion tesseract), leptonica $(pkg-config --modversion lept)"
else
	die "pkg-config cannot find tesseract and lept (.pc files): is libtesseract-dev / libleptonica-dev installed?"
fi

# ------------------------------------------------------------------ promtool

# The tests check the alert rules, the Prometheus config and the live
# /metrics with promtool when it is there. Debian ships it only in the
# prometheus package, whose install also starts a Prometheus server: take
# the one binary out of the package into .tools/bin instead (the tests look
# there). Optional: without it those checks skip and the rest runs.
install_promtool() {
	local dest=.tools/bin/promtool
	if command -v promtool >/dev/null 2>&1; then
		step "promtool: $(command -v promtool)"
		return
	fi
	if [ -x "$dest" ] && "$dest" --version >/dev/null 2>&1; then
		step "promtool: $dest"
		return
	fi
	case "$(uname -s)" in
	Darwin)
		brew install prometheus >/dev/null && step "promtool: $(command -v promtool)" && return
		;;
	Linux)
		local tmp
		tmp=$(mktemp -d)
		if (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1) ||
			{ need_root && apt_update && (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); }; then
			dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
			mkdir -p .tools/bin
			install -m 0755 "$tmp/x/usr/bin/promtool" "$dest"
			rm -rf "$tmp"
			step "promtool: $dest ($("$dest" --version 2>&1 | awk 'NR == 1 { print $3 }'))"
			return
		fi
		rm -rf "$tmp"
		;;
	esac
	step "promtool: not available; the tests that use it will skip"
}
install_promtool

# ---------------------------------------------------------------------- Go

want_go=$(awk '$1 == "go" { print $2; exit }' go.mod)
[ -n "$want_go" ] || die "go.mod has no 'go' line"

go_help() {
	cat >&2 <<EOF
bootstrap: error: $1
  ocrpool needs Go >= $want_go (the 'go' line of go.mod).
  Install it from https://go.dev/dl/ (unpack to /usr/local/go and put
  /usr/local/go/bin on PATH), or use any Go >= 1.21 (for example Ubuntu's
  golang-go 1.22+), which fetches go$want_go by itself (GOTOOLCHAIN=auto,
  the default) the first time it runs in this repository.
  Debian 12's golang-go is 1.19: too old for either.
EOF
	exit 1
}

# local_go_version prints the version of the go on PATH without letting it
# switch toolchains (outside the module, GOTOOLCHAIN=local).
local_go_version() {
	(cd / && GOTOOLCHAIN=local go version 2>/dev/null) | awk '{ sub(/^go/, "", $3); print $3 }'
}

if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		go_help "Go is installed in /usr/local/go but /usr/local/go/bin is not on PATH"
	fi
	# A distribution Go >= 1.21 is enough: it downloads the right toolchain.
	candidate=""
	if command -v apt-cache >/dev/null 2>&1; then
		candidate=$(apt-cache policy golang-go 2>/dev/null | awk '/Candidate:/ { print $2 }')
		candidate=${candidate#*:}          # drop the epoch: 2:1.22~2 -> 1.22~2
		candidate=${candidate%%[~+-]*}     # keep the upstream version: 1.22
	fi
	if [ -n "$candidate" ] && [ "$candidate" != "(none)" ] && version_ge "$candidate" 1.21; then
		step "go: missing; installing golang-go $candidate (it fetches go$want_go itself)"
		apt_install golang-go
	else
		note=""
		[ -z "$candidate" ] || note=" (the distribution's golang-go is $candidate)"
		go_help "go is not installed$note"
	fi
fi

have_go=$(local_go_version)
[ -n "$have_go" ] || go_help "'go version' did not run"
if version_ge "$have_go" "$want_go"; then
	step "go: $have_go (go.mod wants >= $want_go)"
elif version_ge "$have_go" 1.21; then
	toolchain=$(cd / && go env GOTOOLCHAIN 2>/dev/null) || toolchain=""
	case "${toolchain:-auto}" in
	auto | *+auto) ;;
	*) go_help "go $have_go is older than $want_go and GOTOOLCHAIN=$toolchain forbids fetching a newer one (unset it, or 'go env -w GOTOOLCHAIN=auto')" ;;
	esac
	step "go: $have_go is older than $want_go; fetching go$want_go through GOTOOLCHAIN=auto"
	switched=$(go version 2>/dev/null | awk '{ sub(/^go/, "", $3); print $3 }') || true
	if [ -z "$switched" ] || ! version_ge "$switched" "$want_go"; then
		go_help "go $have_go could not fetch go$want_go (no network to the Go toolchain downloads?)"
	fi
	step "go: using $switched"
else
	go_help "go $have_go is too old and cannot fetch a newer toolchain itself (that needs Go >= 1.21)"
fi

step "done"
