"""The private descriptor pool every generated ovserve message module registers in.

TensorFlow, tensorflow-serving-api and ovmsclient register the same symbol
names (``tensorflow.TensorProto``…) in protobuf's default pool; keeping ours
apart lets them share a process. The well-known types our files import
(Any, Int64Value) are added first so dependencies resolve inside this pool.
"""

from google.protobuf import any_pb2, descriptor_pool, wrappers_pb2

POOL = descriptor_pool.DescriptorPool()
POOL.AddSerializedFile(any_pb2.DESCRIPTOR.serialized_pb)
POOL.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
