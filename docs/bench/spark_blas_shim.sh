#!/bin/sh
# A test rig for docs/spark-native-blas.md, not for production images: builds DIR/libblas.so.3 and
# DIR/liblapack.so.3 that forward the Fortran BLAS/LAPACK names dev.ludovic.netlib's JNI loaders look up
# (dspr_, dppsv_, ...) to the OpenBLAS that SciPy's wheel already carries (symbols prefixed scipy_).
# Needs gcc and binutils; downloads nothing. Usage: spark_blas_shim.sh DIR
set -eu
out=$1
venv=$("$(dirname "$0")/../../.venv/bin/python" -c 'import os, scipy; print(os.path.dirname(os.path.dirname(scipy.__file__)))')
jars=$venv/pyspark/jars
mkdir -p "$out/jni"
for jar in "$jars"/blas-*.jar "$jars"/lapack-*.jar; do
  unzip -o -q "$jar" 'resources/native/Linux-amd64/*' -d "$out/jni"
done
strings "$out"/jni/resources/native/Linux-amd64/*.so | grep -E '^[a-z][a-z0-9]*_$' | sort -u > "$out/names.txt"
cp "$venv"/scipy.libs/libscipy_openblas-*.so "$venv"/scipy.libs/libgfortran-*.so* "$venv"/scipy.libs/libquadmath-*.so* "$out/"
openblas=$(basename "$(ls "$out"/libscipy_openblas-*.so)")
{
  echo ".text"
  while read -r name; do printf '.globl %s\n.type %s, @function\n%s:\n  jmp scipy_%s@PLT\n' "$name" "$name" "$name" "$name"; done < "$out/names.txt"
  echo '.section .note.GNU-stack,"",@progbits'
} > "$out/shim.S"
gcc -shared -o "$out/libblas.so.3" "$out/shim.S" -L"$out" -l:"$openblas" -Wl,-rpath,'$ORIGIN'
ln -sf libblas.so.3 "$out/liblapack.so.3"
echo "$out/libblas.so.3: $(wc -l < "$out/names.txt") names forwarded to $openblas"
