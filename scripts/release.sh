#!/usr/bin/env bash
# Builds latchkey's release binaries: static (CGO_ENABLED=0) for linux and darwin
# on amd64 and arm64, each stamped with the version and the commit it was built
# from (latchkey version prints both), and SHA256SUMS beside them.
#
#   scripts/release.sh [--out DIR] [VERSION]
#
# VERSION defaults to `git describe --tags --always --dirty`; DIR to dist/. A
# tree with uncommitted changes is stamped COMMIT-dirty. Check a download with
#   sha256sum -c SHA256SUMS --ignore-missing      (shasum -a 256 -c on macOS)
set -euo pipefail
cd "$(dirname "$0")/.."

out=dist
version=
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || { echo "release: --out needs a directory" >&2; exit 2; }; out=$2; shift 2;;
    --out=*) out=${1#--out=}; shift;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    -*) echo "release: unknown flag $1" >&2; exit 2;;
    *) [ -z "$version" ] || { echo "release: one VERSION only" >&2; exit 2; }; version=$1; shift;;
  esac
done

if [ -z "$version" ]; then
  version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
fi
if ! [[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]]; then
  echo "release: version \"$version\" may hold only letters, digits and . _ + -" >&2
  exit 2
fi
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit-dirty"
fi

if command -v sha256sum >/dev/null 2>&1; then sha=(sha256sum); else sha=(shasum -a 256); fi
mkdir -p "$out"
pkg=github.com/latchkeyhq/latchkey/internal/app
files=()
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64; do
  os=${target%/*} arch=${target#*/}
  name="latchkey-$version-$os-$arch"
  echo "release: $name"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X $pkg.Version=$version -X $pkg.Commit=$commit" -o "$out/$name" ./cmd/latchkey
  files+=("$name")
done
(cd "$out" && "${sha[@]}" "${files[@]}" > SHA256SUMS)
echo "release: version $version, commit $commit, in $out:"
cat "$out/SHA256SUMS"
