// bitlite's TFLite delegate for Android apps:
//
//   Interpreter.Options options = new Interpreter.Options().addDelegate(new BitliteDelegate());
//
// It runs the model's bitlite custom ops (BitliteConv2D, BitliteFullyConnected); the
// interpreter runs every other op. Options are those of the Python load_delegate.
package org.bitlite;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.lite.Delegate;

public final class BitliteDelegate implements Delegate {
  static {
    System.loadLibrary("bitlite_jni");
  }

  /** Delegate options; unset ones keep the delegate's defaults. */
  public static final class Options {
    private final List<String> keys = new ArrayList<>();
    private final List<String> values = new ArrayList<>();

    /** Threads for bitlite ops (default: the interpreter's num_threads). */
    public Options setNumThreads(int numThreads) {
      return set("num_threads", Integer.toString(numThreads));
    }

    /** "auto" (default), "bitserial", "int", "lut" or "reference" (see the README). */
    public Options setKernel(String kernel) {
      return set("kernel", kernel);
    }

    /** Print to stderr which nodes the delegate takes and how it runs them. */
    public Options setVerbose(boolean verbose) {
      return set("verbose", verbose ? "true" : "false");
    }

    private Options set(String key, String value) {
      keys.add(key);
      values.add(value);
      return this;
    }
  }

  private long handle;

  public BitliteDelegate() {
    this(new Options());
  }

  /** @throws IllegalArgumentException for an invalid option value, with the delegate's message */
  public BitliteDelegate(Options options) {
    handle = nativeCreate(options.keys.toArray(new String[0]), options.values.toArray(new String[0]));
  }

  @Override
  public long getNativeHandle() {
    return handle;
  }

  /** Frees the delegate; call it after closing every interpreter that uses it. */
  @Override
  public void close() {
    if (handle != 0) {
      nativeDestroy(handle);
      handle = 0;
    }
  }

  private static native long nativeCreate(String[] keys, String[] values);

  private static native void nativeDestroy(long handle);
}
