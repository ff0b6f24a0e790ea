;; MurmurHash3 x64 128-bit (seed 0) over memory[16 .. 16 + len), digest (h1, h2) written as two
;; little-endian i64 at memory[0 .. 16). The caller zeroes the 16 bytes after the input, so the
;; tail block is read as two whole i64 loads. Compiled by scripts/build-wasm.ts into
;; murmur3-wasm.ts; src/core/murmur3.ts is the same hash in JavaScript (and the fallback).
(module
  (memory (export "memory") 1)
  (func $fmix (param $k i64) (result i64)
    (local.set $k (i64.xor (local.get $k) (i64.shr_u (local.get $k) (i64.const 33))))
    (local.set $k (i64.mul (local.get $k) (i64.const 0xff51afd7ed558ccd)))
    (local.set $k (i64.xor (local.get $k) (i64.shr_u (local.get $k) (i64.const 33))))
    (local.set $k (i64.mul (local.get $k) (i64.const 0xc4ceb9fe1a85ec53)))
    (i64.xor (local.get $k) (i64.shr_u (local.get $k) (i64.const 33))))
  (func $k1 (param $k i64) (result i64)
    (i64.mul
      (i64.rotl (i64.mul (local.get $k) (i64.const 0x87c37b91114253d5)) (i64.const 31))
      (i64.const 0x4cf5ad432745937f)))
  (func $k2 (param $k i64) (result i64)
    (i64.mul
      (i64.rotl (i64.mul (local.get $k) (i64.const 0x4cf5ad432745937f)) (i64.const 33))
      (i64.const 0x87c37b91114253d5)))
  (func (export "hash") (param $len i32)
    (local $h1 i64) (local $h2 i64) (local $p i32) (local $end i32) (local $rest i32)
    (local.set $p (i32.const 16))
    (local.set $end (i32.add (i32.const 16) (i32.and (local.get $len) (i32.const -16))))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h1 (i64.xor (local.get $h1) (call $k1 (i64.load (local.get $p)))))
        (local.set $h1
          (i64.add
            (i64.mul
              (i64.add (i64.rotl (local.get $h1) (i64.const 27)) (local.get $h2))
              (i64.const 5))
            (i64.const 0x52dce729)))
        (local.set $h2 (i64.xor (local.get $h2) (call $k2 (i64.load offset=8 (local.get $p)))))
        (local.set $h2
          (i64.add
            (i64.mul
              (i64.add (i64.rotl (local.get $h2) (i64.const 31)) (local.get $h1))
              (i64.const 5))
            (i64.const 0x38495ab5)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $blocks)))
    (local.set $rest (i32.and (local.get $len) (i32.const 15)))
    (if (i32.gt_u (local.get $rest) (i32.const 8))
      (then
        (local.set $h2 (i64.xor (local.get $h2) (call $k2 (i64.load offset=8 (local.get $p)))))))
    (if (i32.gt_u (local.get $rest) (i32.const 0))
      (then
        (local.set $h1 (i64.xor (local.get $h1) (call $k1 (i64.load (local.get $p)))))))
    (local.set $h1 (i64.xor (local.get $h1) (i64.extend_i32_u (local.get $len))))
    (local.set $h2 (i64.xor (local.get $h2) (i64.extend_i32_u (local.get $len))))
    (local.set $h1 (i64.add (local.get $h1) (local.get $h2)))
    (local.set $h2 (i64.add (local.get $h2) (local.get $h1)))
    (local.set $h1 (call $fmix (local.get $h1)))
    (local.set $h2 (call $fmix (local.get $h2)))
    (local.set $h1 (i64.add (local.get $h1) (local.get $h2)))
    (local.set $h2 (i64.add (local.get $h2) (local.get $h1)))
    (i64.store (i32.const 0) (local.get $h1))
    (i64.store offset=8 (i32.const 0) (local.get $h2))))
