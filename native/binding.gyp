{
  "targets": [
    {
      "target_name": "alexnet_native",
      "sources": ["<!@(node -p \"require('./sources.json').cpu.map((f) => '../' + f).join(' ')\")"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "."],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=fast", "-fno-math-errno"],
      "dependencies": ["cpu_exact"],
      "conditions": [
        ["target_arch=='x64'", {
          "defines": ["ALEXNET_GEMM_X86"],
          "dependencies": ["gemm_avx2", "gemm_avx512"]
        }]
      ]
    },
    {
      "target_name": "cpu_exact",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./sources.json').cpu_exact.map((f) => '../' + f).join(' ')\")"],
      "include_dirs": ["."],
      "cflags": ["-fPIC"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-fno-math-errno"]
    },
    {
      "target_name": "gemm_avx2",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./sources.json').cpu_avx2.map((f) => '../' + f).join(' ')\")"],
      "include_dirs": ["."],
      "cflags": ["-fPIC"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=fast", "-fno-math-errno", "-mavx2", "-mfma"]
    },
    {
      "target_name": "gemm_avx512",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./sources.json').cpu_avx512.map((f) => '../' + f).join(' ')\")"],
      "include_dirs": ["."],
      "cflags": ["-fPIC"],
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=fast", "-fno-math-errno", "-mavx512f", "-mfma"]
    }
  ]
}
