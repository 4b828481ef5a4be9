#!/bin/sh
# `make install` into a scratch DESTDIR gives headers, libraries and a weir.pc with which a
# program builds (the README's example) against the installed copy, statically and shared.
# Always the plain build: an ASan build's library needs the sanitizer runtime to link.
b=build
echo "1..4"
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
if env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s install BUILD="$b" PREFIX=/usr DESTDIR="$d" >"$d/log" 2>&1; then
    echo "ok 1 - make install PREFIX=/usr DESTDIR=..."
else
    echo "not ok 1 - make install"; sed 's/^/# /' "$d/log" | tail -20
fi
[ -f "$d/usr/include/weir/weir.h" ] && [ -f "$d/usr/lib/libweir.a" ] && [ -e "$d/usr/lib/libweir.so" ] \
    && [ -x "$d/usr/bin/weir" ] && echo "ok 2 - headers, libweir.a, libweir.so and the CLI are installed" \
    || echo "not ok 2 - headers, libweir.a, libweir.so and the CLI are installed"
if ! command -v pkg-config >/dev/null 2>&1; then
    echo "ok 3 # SKIP pkg-config is not installed"
    echo "ok 4 # SKIP pkg-config is not installed"
    exit 0
fi
pc() { PKG_CONFIG_SYSROOT_DIR="$d" PKG_CONFIG_PATH="$d/usr/lib/pkgconfig" pkg-config "$@"; }
if ${CC:-cc} -std=c11 $(pc --cflags weir) examples/line_upper.c -o "$d/static" \
       "$d/usr/lib/libweir.a" $(pc --libs-only-l --static weir | sed 's/-lweir//') 2>"$d/cc.log" \
   && [ "$("$d/static" | tr '\n' ' ')" = "HELLO WEIR " ]; then
    echo "ok 3 - the example builds against the installed static library with pkg-config"
else
    echo "not ok 3 - static build with pkg-config"; sed 's/^/# /' "$d/cc.log" | tail -10
fi
if ${CC:-cc} -std=c11 $(pc --cflags weir) examples/line_upper.c -o "$d/shared" $(pc --libs weir) \
       2>"$d/cc2.log" && [ "$(LD_LIBRARY_PATH="$d/usr/lib" "$d/shared" | tr '\n' ' ')" = "HELLO WEIR " ]; then
    echo "ok 4 - the example builds against the installed shared library with pkg-config"
else
    echo "not ok 4 - shared build with pkg-config"; sed 's/^/# /' "$d/cc2.log" | tail -10
fi
