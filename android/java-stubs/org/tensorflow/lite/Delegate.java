// Compile-time stand-in for TFLite's org.tensorflow.lite.Delegate (the TFLite Java API jar is
// not reachable here): only what BitliteDelegate implements. It is never packaged: at run time
// the app's TFLite dependency provides the real interface.
package org.tensorflow.lite;

import java.io.Closeable;

public interface Delegate extends Closeable {
  /** The TfLiteDelegate* the interpreter applies. */
  long getNativeHandle();

  @Override
  default void close() {}
}
