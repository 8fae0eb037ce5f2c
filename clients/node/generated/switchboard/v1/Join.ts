// Original file: switchboard/v1/chat.proto


export interface Join {
  'name'?: (string);
}

export interface Join__Output {
  'name': (string);
}
