{
  "targets": [
    {
      "target_name": "stellar_native",
      "sources": ["<!@(node scripts/gyp-sources.cjs sources)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "csrc"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fexceptions", "-Wall", "-Wno-unused-function", "-Wno-psabi"],
      "libraries": ["<!@(node scripts/gyp-sources.cjs libraries)"]
    }
  ]
}
