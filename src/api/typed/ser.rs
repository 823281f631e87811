//! `Serialize` → [`Node`]: the serde data model mapped onto xitdb's kinds
//! (the table in the module docs of `typed`).

use super::error::typed;
use super::node::Node;
use super::sorted::SORTED_MARK;
use super::MAX_DEPTH;
use crate::error::{Error, Result};
use serde::ser::{self, Serialize};

/// Serializes `value` into a node tree.
pub(crate) fn to_node<T: Serialize + ?Sized>(value: &T) -> Result<Node> {
    value.serialize(NodeSer { depth: 0 })
}

/// The serializer of one value, `depth` structures below the top.
#[derive(Clone, Copy)]
struct NodeSer {
    depth: usize,
}

impl NodeSer {
    /// The serializer for a value nested one level deeper.
    fn child(self) -> Result<NodeSer> {
        if self.depth >= MAX_DEPTH {
            return Err(typed(format!(
                "the value nests deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(NodeSer {
            depth: self.depth + 1,
        })
    }

    fn entries(self, len: Option<usize>) -> Result<MapBuilder> {
        Ok(MapBuilder {
            ser: self.child()?,
            entries: Vec::with_capacity(len.unwrap_or(0)),
            key: None,
            variant: None,
        })
    }
}

/// A one-entry map `{variant: content}`: how enums with content are stored.
fn variant(name: &str, content: Node) -> Node {
    Node::Map(vec![(name.as_bytes().to_vec(), content)])
}

/// Scalars that convert losslessly into a node's number.
macro_rules! scalars {
    ($($method:ident: $ty:ty => $node:ident),*) => {
        $(fn $method(self, v: $ty) -> Result<Node> {
            Ok(Node::$node(v.into()))
        })*
    };
}

impl ser::Serializer for NodeSer {
    type Ok = Node;
    type Error = Error;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = SeqBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    scalars!(serialize_bool: bool => Uint, serialize_u8: u8 => Uint, serialize_u16: u16 => Uint,
        serialize_u32: u32 => Uint, serialize_u64: u64 => Uint, serialize_i8: i8 => Int,
        serialize_i16: i16 => Int, serialize_i32: i32 => Int, serialize_i64: i64 => Int,
        serialize_f32: f32 => Float, serialize_f64: f64 => Float);
    fn serialize_i128(self, v: i128) -> Result<Node> {
        i64::try_from(v)
            .map(Node::Int)
            .map_err(|_| typed(format!("{v} does not fit a stored int (64 bits)")))
    }
    fn serialize_u128(self, v: u128) -> Result<Node> {
        u64::try_from(v)
            .map(Node::Uint)
            .map_err(|_| typed(format!("{v} does not fit a stored uint (64 bits)")))
    }
    fn serialize_char(self, v: char) -> Result<Node> {
        Ok(Node::Bytes(v.to_string().into_bytes()))
    }
    fn serialize_str(self, v: &str) -> Result<Node> {
        Ok(Node::Bytes(v.as_bytes().to_vec()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Node> {
        Ok(Node::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Node> {
        Ok(Node::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Node> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Node> {
        Ok(Node::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Node> {
        Ok(Node::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Node> {
        Ok(Node::Bytes(variant.as_bytes().to_vec()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Node> {
        match value.serialize(self)? {
            Node::Map(entries) if name == SORTED_MARK => Ok(Node::Sorted(entries)),
            node => Ok(node),
        }
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
        value: &T,
    ) -> Result<Node> {
        let content = value
            .serialize(self.child()?)
            .map_err(|e| e.at_key(name.as_bytes()))?;
        Ok(variant(name, content))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder> {
        Ok(SeqBuilder {
            ser: self.child()?,
            items: Vec::with_capacity(len.unwrap_or(0)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqBuilder> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder> {
        let mut seq = self.child()?.serialize_seq(Some(len))?;
        seq.variant = Some(name);
        Ok(seq)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder> {
        self.entries(len)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<MapBuilder> {
        self.entries(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
        len: usize,
    ) -> Result<MapBuilder> {
        let mut map = self.child()?.entries(Some(len))?;
        map.variant = Some(name);
        Ok(map)
    }
}

/// A sequence, tuple or tuple variant being built.
pub(crate) struct SeqBuilder {
    ser: NodeSer,
    items: Vec<Node>,
    /// The variant name, for a tuple variant.
    variant: Option<&'static str>,
}

impl SeqBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let index = self.items.len() as u64;
        let node = value.serialize(self.ser).map_err(|e| e.at_index(index))?;
        self.items.push(node);
        Ok(())
    }

    fn finish(self) -> Result<Node> {
        let list = Node::List(self.items);
        Ok(match self.variant {
            Some(name) => variant(name, list),
            None => list,
        })
    }
}

macro_rules! seq_impl {
    ($trait:ident, $method:ident) => {
        impl ser::$trait for SeqBuilder {
            type Ok = Node;
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                self.push(value)
            }
            fn end(self) -> Result<Node> {
                self.finish()
            }
        }
    };
}
seq_impl!(SerializeSeq, serialize_element);
seq_impl!(SerializeTuple, serialize_element);
seq_impl!(SerializeTupleStruct, serialize_field);
seq_impl!(SerializeTupleVariant, serialize_field);

/// A map, struct or struct variant being built.
pub(crate) struct MapBuilder {
    ser: NodeSer,
    entries: Vec<(Vec<u8>, Node)>,
    /// The key waiting for its value (a map).
    key: Option<Vec<u8>>,
    /// The variant name, for a struct variant.
    variant: Option<&'static str>,
}

impl MapBuilder {
    fn finish(self) -> Node {
        let map = Node::Map(self.entries);
        match self.variant {
            Some(name) => variant(name, map),
            None => map,
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: Vec<u8>, value: &T) -> Result<()> {
        let node = value.serialize(self.ser).map_err(|e| e.at_key(&key))?;
        self.entries.push((key, node));
        Ok(())
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Node;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.key = Some(key.serialize(KeySer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| typed("a map value was given before its key"))?;
        self.field(key, value)
    }
    fn end(self) -> Result<Node> {
        Ok(self.finish())
    }
}

macro_rules! struct_impl {
    ($($trait:ident),*) => {$(
        impl ser::$trait for MapBuilder {
            type Ok = Node;
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<()> {
                self.field(key.as_bytes().to_vec(), value)
            }
            fn end(self) -> Result<Node> {
                Ok(self.finish())
            }
        }
    )*};
}
struct_impl!(SerializeStruct, SerializeStructVariant);

/// Map keys: bytes as they are, numbers and bools as decimal text.
struct KeySer;

fn key_error() -> Error {
    typed("a map key must be text, bytes, a number, a bool or a unit variant")
}

macro_rules! key_as_text {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> Result<Vec<u8>> {
            Ok(v.to_string().into_bytes())
        })*
    };
}

impl ser::Serializer for KeySer {
    type Ok = Vec<u8>;
    type Error = Error;
    type SerializeSeq = ser::Impossible<Vec<u8>, Error>;
    type SerializeTuple = ser::Impossible<Vec<u8>, Error>;
    type SerializeTupleStruct = ser::Impossible<Vec<u8>, Error>;
    type SerializeTupleVariant = ser::Impossible<Vec<u8>, Error>;
    type SerializeMap = ser::Impossible<Vec<u8>, Error>;
    type SerializeStruct = ser::Impossible<Vec<u8>, Error>;
    type SerializeStructVariant = ser::Impossible<Vec<u8>, Error>;

    key_as_text!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_char: char);

    fn serialize_f32(self, _: f32) -> Result<Vec<u8>> {
        Err(key_error())
    }
    fn serialize_f64(self, _: f64) -> Result<Vec<u8>> {
        Err(key_error())
    }
    fn serialize_str(self, v: &str) -> Result<Vec<u8>> {
        Ok(v.as_bytes().to_vec())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Vec<u8>> {
        Ok(v.to_vec())
    }
    fn serialize_none(self) -> Result<Vec<u8>> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Vec<u8>> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<Vec<u8>> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Vec<u8>> {
        Err(key_error())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<Vec<u8>> {
        Ok(v.as_bytes().to_vec())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Vec<u8>> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Vec<u8>> {
        Err(key_error())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(key_error())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(key_error())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(key_error())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(key_error())
    }
}
