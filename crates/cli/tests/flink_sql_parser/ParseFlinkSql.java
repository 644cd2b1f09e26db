// Parses a Flink SQL script with Apache Flink's own SQL parser (FlinkSqlParserImpl, the grammar Flink's planner
// uses) and prints one line per statement, tab-separated, for crates/cli/tests/flink_sql.rs to check:
//   CREATE_TABLE <name> <columns> <watermark rowtime column or ->
//   ALTER_TABLE  <name> <statement class>
//   CREATE_VIEW  <name>
//   CREATE_MODEL <name> <input columns joined by |> <output columns joined by |>
//   INSERT       <target table> <ML_PREDICT operand counts joined by , or ->
// Parsing is syntax only: names, types and functions are not resolved against a catalog.
// Run with the Java source launcher: java -cp <flink-table-planner.jar:slf4j-api.jar> ParseFlinkSql.java FILE
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.calcite.avatica.util.Casing;
import org.apache.calcite.avatica.util.Quoting;
import org.apache.calcite.sql.SqlCall;
import org.apache.calcite.sql.SqlNode;
import org.apache.calcite.sql.SqlNodeList;
import org.apache.calcite.sql.parser.SqlParser;
import org.apache.calcite.sql.util.SqlBasicVisitor;
import org.apache.flink.sql.parser.ddl.table.SqlAlterTable;
import org.apache.flink.sql.parser.ddl.view.SqlCreateView;
import org.apache.flink.sql.parser.ddl.model.SqlCreateModel;
import org.apache.flink.sql.parser.ddl.table.SqlCreateTable;
import org.apache.flink.sql.parser.dml.RichSqlInsert;
import org.apache.flink.sql.parser.impl.FlinkSqlParserImpl;
import org.apache.flink.sql.parser.validate.FlinkSqlConformance;

public class ParseFlinkSql {
    public static void main(String[] args) throws Exception {
        String sql = Files.readString(Path.of(args[0]));
        SqlParser.Config config = SqlParser.config()
                .withParserFactory(FlinkSqlParserImpl.FACTORY)
                .withConformance(FlinkSqlConformance.DEFAULT)
                .withQuoting(Quoting.BACK_TICK)
                .withUnquotedCasing(Casing.UNCHANGED)
                .withQuotedCasing(Casing.UNCHANGED)
                .withIdentifierMaxLength(256);
        SqlNodeList statements = SqlParser.create(sql, config).parseStmtList();
        for (SqlNode n : statements) {
            System.out.println(describe(n));
        }
    }

    static String describe(SqlNode n) {
        if (n instanceof SqlCreateTable t) {
            String wm = t.getWatermark().map(w -> w.getEventTimeColumnName().toString()).orElse("-");
            return "CREATE_TABLE\t" + t.getName() + "\t" + t.getColumnList().size() + "\t" + wm;
        }
        if (n instanceof SqlAlterTable t) {
            return "ALTER_TABLE\t" + t.getTableName() + "\t" + n.getClass().getSimpleName();
        }
        if (n instanceof SqlCreateView v) {
            return "CREATE_VIEW\t" + v.getName();
        }
        if (n instanceof SqlCreateModel m) {
            return "CREATE_MODEL\t" + m.getName() + "\t" + columns(m.getInputColumnList()) + "\t"
                    + columns(m.getOutputColumnList());
        }
        if (n instanceof RichSqlInsert i) {
            List<String> counts = new ArrayList<>();
            i.getSource().accept(new SqlBasicVisitor<Void>() {
                @Override
                public Void visit(SqlCall call) {
                    if (call.getOperator().getName().equalsIgnoreCase("ML_PREDICT")) {
                        counts.add(Integer.toString(call.operandCount()));
                    }
                    return super.visit(call);
                }
            });
            return "INSERT\t" + i.getTargetTable() + "\t" + (counts.isEmpty() ? "-" : String.join(",", counts));
        }
        return "OTHER\t" + n.getClass().getSimpleName();
    }

    static String columns(SqlNodeList list) {
        List<String> out = new ArrayList<>();
        for (SqlNode c : list) {
            out.add(c.toString().replace('\n', ' '));
        }
        return String.join("|", out);
    }
}
