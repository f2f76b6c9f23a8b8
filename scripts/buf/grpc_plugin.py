"""A protoc plugin running grpcio-tools' built-in grpc_python generator.

buf hands a plugin a CodeGeneratorRequest on stdin. This writes the
request's descriptors to a FileDescriptorSet, runs grpcio-tools' protoc
on it with --grpc_python_out, and answers with the files it wrote.
"""

import pathlib
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse()
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    with tempfile.TemporaryDirectory() as scratch:
        descriptors = pathlib.Path(scratch, "descriptors.pb")
        descriptors.write_bytes(
            descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString()
        )
        out = pathlib.Path(scratch, "out")
        out.mkdir()
        arguments = [
            "protoc",
            f"--descriptor_set_in={descriptors}",
            f"--grpc_python_out={out}",
            *request.file_to_generate,
        ]
        if protoc.main(arguments) != 0:
            response.error = "grpc_tools.protoc failed on " + " ".join(request.file_to_generate)
        else:
            for path in sorted(out.rglob("*.py")):
                generated = response.file.add()
                generated.name = path.relative_to(out).as_posix()
                generated.content = path.read_text()
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
